// Where a transaction's gas goes, from the opcode trace of the in-process
// Hardhat (EDR) chain (`debug_traceTransaction`): storage writes by kind,
// cold reads, external calls, signature recoveries, logs, and the intrinsic
// part (21,000 + calldata). The kinds are told apart by what EIP-2929/2200
// charge for them, so nothing here depends on knowing the contracts' layout:
//
//   new slot        SSTORE 0 → x    20,000 (+2,100 when the slot was cold) — the 22,100 floor
//   existing slot   SSTORE x → y     2,900 (+2,100 cold)                     — the 5,000 floor
//   rewrite         SSTORE of a slot this transaction wrote already (100, +2,100 cold)
//   cold read       SLOAD of a slot not yet touched (2,100)
//
// Refunds (a slot cleared back to zero) come back at the end of the
// transaction; `gasUsed` is after them, so the parts add up to at most it.

/** One transaction's gas, by what it was spent on. */
export interface GasBreakdown {
  gasUsed: number;
  /** 21,000 + calldata (4 per zero byte, 16 per other byte; the EIP-7623 floor where it applies). */
  intrinsic: number;
  newSlots: number;
  existingSlots: number;
  rewrites: number;
  coldReads: number;
  /** Calls to other contracts (token, policy, registry, a contract wallet), not counting precompiles. */
  externalCalls: number;
  /** ecrecover precompile calls: one per ECDSA signature checked. */
  ecrecovers: number;
  logs: number;
  /** Gas of the storage writes and cold reads above (their opcodes' cost, cold surcharges included). */
  storageGas: number;
  /** Everything else: execution, hashing, memory, calls' own cost, logs. */
  otherGas: number;
}

interface StructLog {
  op: string;
  gasCost: number;
  depth: number;
  stack?: string[];
}

type Requester = { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
type TxSource = { getTransaction(hash: string): Promise<{ data: string } | null> };

const ECRECOVER = 1n;
const LAST_PRECOMPILE = 0x11n;

export async function breakdown(provider: Requester, chain: TxSource, hash: string, gasUsed: number): Promise<GasBreakdown> {
  const trace = (await provider.request({ method: "debug_traceTransaction", params: [hash] })) as { structLogs: StructLog[] };
  const tx = await chain.getTransaction(hash);
  const data = tx ? Buffer.from(tx.data.slice(2), "hex") : Buffer.alloc(0);
  let zero = 0;
  for (const b of data) if (b === 0) zero++;
  const tokens = zero + (data.length - zero) * 4;
  // EIP-7623 (Prague): a transaction pays at least 10 per calldata token; the chain here is Cancun, so 4/16.
  const intrinsic = 21_000 + tokens * 4;
  const out: GasBreakdown = {
    gasUsed,
    intrinsic,
    newSlots: 0,
    existingSlots: 0,
    rewrites: 0,
    coldReads: 0,
    externalCalls: 0,
    ecrecovers: 0,
    logs: 0,
    storageGas: 0,
    otherGas: 0,
  };
  for (const log of trace.structLogs) {
    const cost = Number(log.gasCost);
    switch (log.op) {
      case "SSTORE": {
        if (cost === 22_100 || cost === 20_000) out.newSlots++;
        else if (cost === 5_000 || cost === 2_900) out.existingSlots++;
        else out.rewrites++;
        out.storageGas += cost;
        break;
      }
      case "SLOAD":
        if (cost === 2_100) {
          out.coldReads++;
          out.storageGas += cost;
        }
        break;
      case "CALL":
      case "STATICCALL":
      case "DELEGATECALL": {
        const stack = log.stack ?? [];
        const target = BigInt(stack[stack.length - 2] ?? "0x0");
        if (target === ECRECOVER) out.ecrecovers++;
        else if (target > LAST_PRECOMPILE) out.externalCalls++;
        break;
      }
      default:
        if (log.op.startsWith("LOG")) out.logs++;
    }
  }
  out.otherGas = Math.max(0, gasUsed - intrinsic - out.storageGas);
  return out;
}

/** One line: what a transaction spent, against the 22,100 / 5,000 floors of a new / existing slot. */
export function renderBreakdown(name: string, b: GasBreakdown): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const floor = b.newSlots * 22_100 + b.existingSlots * 5_000;
  return (
    `  ${name.padEnd(40)} ${n(b.gasUsed).padStart(9)} = intrinsic ${n(b.intrinsic)} + storage ${n(b.storageGas)}` +
    ` (${b.newSlots} new, ${b.existingSlots} existing, ${b.rewrites} rewrites, ${b.coldReads} cold reads;` +
    ` floor ${b.newSlots}×22,100 + ${b.existingSlots}×5,000 = ${n(floor)}) + other ${n(b.otherGas)}` +
    ` (${b.ecrecovers} sig recoveries, ${b.externalCalls} external calls, ${b.logs} logs)`
  );
}
