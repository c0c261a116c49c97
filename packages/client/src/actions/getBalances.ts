import { Contract, type Provider } from "ethers";
import type { Deployment } from "../chain/deployment.js";
import { ChainError } from "../errors.js";

export interface GetBalancesParameters {
  /** Account to look at. */
  address: string;
  blockTag?: number | "latest";
}

export interface GetBalancesReturnType {
  address: string;
  /** Native balance (gas), wei. */
  eth: bigint;
  /** MESH held, base units. */
  mesh: bigint;
  /** MESH credited in the escrow and withdrawable (provider earnings, fees). */
  escrow: bigint;
}

export type GetBalancesErrorType = ChainError;

const ERC20 = ["function balanceOf(address) view returns (uint256)"];
const ESCROW = ["function balanceOf(address) view returns (uint256)"];

/**
 * The native, MESH and escrow balances of an account.
 *
 * @example
 * const b = await getBalances({ provider, deployment }, { address: wallet.address });
 * console.log(formatUnits(b.mesh, 18));
 */
export async function getBalances(
  client: { provider: Provider; deployment: Deployment },
  params: GetBalancesParameters,
): Promise<GetBalancesReturnType> {
  const blockTag = params.blockTag ?? "latest";
  try {
    const token = new Contract(client.deployment.token, ERC20, client.provider);
    const escrow = new Contract(client.deployment.escrow, ESCROW, client.provider);
    const [eth, mesh, held] = await Promise.all([
      client.provider.getBalance(params.address, blockTag),
      token.getFunction("balanceOf").staticCall(params.address, { blockTag }) as Promise<bigint>,
      escrow.getFunction("balanceOf").staticCall(params.address, { blockTag }) as Promise<bigint>,
    ]);
    return { address: params.address, eth, mesh, escrow: held };
  } catch (cause) {
    throw new ChainError(`Cannot read the balances of ${params.address}.`, { cause, hint: "Check --rpc-url and --deployment." });
  }
}
