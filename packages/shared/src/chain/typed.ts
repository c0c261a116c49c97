import type {
  BaseContract,
  BigNumberish,
  BytesLike,
  ContractRunner,
  ContractTransaction,
  ContractTransactionResponse,
  Overrides,
} from "ethers";

/**
 * Types for ethers 6 contracts, inferred from the `as const` ABIs in
 * `abis.ts`: each ABI function becomes a method whose arguments and result
 * are typed (ints as `bigint` out and `BigNumberish` in, bytes as hex
 * strings, structs as objects keyed by field name).
 */

export interface AbiParameter {
  readonly name?: string;
  readonly type: string;
  readonly internalType?: string;
  readonly components?: readonly AbiParameter[];
}

export interface AbiFunction {
  readonly type: "function";
  readonly name: string;
  readonly inputs: readonly AbiParameter[];
  readonly outputs: readonly AbiParameter[];
  readonly stateMutability: "pure" | "view" | "nonpayable" | "payable";
}

export type Abi = readonly { readonly type: string }[];

type Direction = "in" | "out";

type PrimitiveType<T extends string, D extends Direction> = T extends "address" | "string"
  ? string
  : T extends "bool"
    ? boolean
    : T extends `bytes${string}`
      ? D extends "in"
        ? BytesLike
        : string
      : T extends `uint${string}` | `int${string}`
        ? D extends "in"
          ? BigNumberish
          : bigint
        : unknown;

type StructType<C extends readonly AbiParameter[], D extends Direction> = {
  [K in C[number] as K["name"] extends string ? K["name"] : never]: AbiParameterType<K, D>;
};

/** The TypeScript type of one ABI parameter, as passed in (`"in"`) or returned (`"out"`). */
export type AbiParameterType<P extends AbiParameter, D extends Direction> = P["type"] extends `${infer Base}[]`
  ? AbiParameterType<Omit<P, "type"> & { readonly type: Base }, D>[]
  : P["type"] extends `${string}[${string}]`
    ? unknown[]
    : P extends { readonly type: "tuple"; readonly components: infer C extends readonly AbiParameter[] }
      ? StructType<C, D>
      : PrimitiveType<P["type"], D>;

/** A parameter list as a tuple type. */
export type AbiParametersType<P extends readonly AbiParameter[], D extends Direction> = {
  -readonly [I in keyof P]: P[I] extends AbiParameter ? AbiParameterType<P[I], D> : never;
};

/** What a call returns: nothing, the single value, or ethers' `Result` (by index and by name). */
export type AbiOutputType<P extends readonly AbiParameter[]> = P extends readonly []
  ? void
  : P extends readonly [infer Only extends AbiParameter]
    ? AbiParameterType<Only, "out">
    : AbiParametersType<P, "out"> & StructType<P, "out">;

/** An ethers contract method with typed arguments and result. */
export interface TypedContractMethod<Args extends unknown[], Out, Mutability extends string> {
  (...args: [...Args, overrides?: Overrides]): Promise<Mutability extends "view" | "pure" ? Out : ContractTransactionResponse>;
  staticCall(...args: [...Args, overrides?: Overrides]): Promise<Out>;
  estimateGas(...args: [...Args, overrides?: Overrides]): Promise<bigint>;
  populateTransaction(...args: [...Args, overrides?: Overrides]): Promise<ContractTransaction>;
  send(...args: [...Args, overrides?: Overrides]): Promise<ContractTransactionResponse>;
}

type AbiFunctions<A extends Abi> = Extract<A[number], AbiFunction>;

/** One typed method per function of the ABI. */
export type ContractMethods<A extends Abi> = {
  [F in AbiFunctions<A> as F["name"]]: TypedContractMethod<
    AbiParametersType<F["inputs"], "in">,
    AbiOutputType<F["outputs"]>,
    F["stateMutability"]
  >;
};

/** An ethers `Contract` whose methods are typed from an `as const` ABI. */
export type TypedContract<A extends Abi> = Omit<BaseContract, "connect"> &
  ContractMethods<A> & {
    connect(runner: ContractRunner | null): TypedContract<A>;
  };
