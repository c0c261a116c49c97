import { formatUnits } from "ethers";

/** "1500 MESH": votes and balances are MESH base units (18 decimals). */
export function formatMesh(amount: bigint): string {
  const s = formatUnits(amount, 18);
  return `${s.endsWith(".0") ? s.slice(0, -2) : s} MESH`;
}
