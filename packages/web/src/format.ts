import { formatUnits } from "ethers";

/** MESH with at most 4 decimals: "12.5 MESH". */
export function mesh(amount: string | bigint | undefined): string {
  if (amount === undefined) return "—";
  const s = formatUnits(BigInt(amount), 18);
  const [i, f = ""] = s.split(".");
  const frac = f.replace(/0+$/, "").slice(0, 4);
  return `${Number(i).toLocaleString("en")}${frac ? `.${frac}` : ""} MESH`;
}

export const short = (hex: string | undefined) => (hex ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : "—");

export function when(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}
