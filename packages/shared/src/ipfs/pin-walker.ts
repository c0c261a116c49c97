import type { GraphNode, GraphWalkerFactory, WalkOptions } from "helia";
import { createUnsafe } from "multiformats/block";
import type { CID } from "multiformats/cid";

/** Joins a block read (bytes, or chunks of them) into one buffer. */
async function readAll(value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of value) {
    chunks.push(c);
    size += c.byteLength;
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export interface SequentialWalkerOptions {
  /**
   * Blocks the caller holds in memory, by CID string: the walk takes their
   * bytes from here instead of reading them back from the blockstore. Only
   * for blocks the caller has just stored and whose CIDs it computed itself
   * (a render trace's tensors and root), so the bytes are those stored.
   */
  known?: ReadonlyMap<string, Uint8Array> | undefined;
  /**
   * Stops the walk between two blocks, and is handed to nothing else (not
   * to the datastore writes of the pin records): an abort rejects the
   * `pins.add` call and leaves no write half-done behind it.
   */
  signal?: AbortSignal | undefined;
}

/**
 * A depth-first DAG walker for `helia.pins.add` that reads one block at a
 * time in the walk's own async call chain.
 *
 * Why not Helia's default: its walker runs block reads as jobs on a queue and
 * forwards a job's failure into the consuming generator with a fire-and-forget
 * `gen.throw(err)`. When the walk's signal fires mid-pin (a provider's
 * assignment deadline passing while its segment is pinned), the failed read
 * and the aborted queue both end the generator, and the promise that
 * `gen.throw` returns rejects with nobody listening: an unhandled
 * `TimeoutError` that took a provider process down. Here every read is
 * awaited by the walk itself, so an abort rejects the `pins.add` call and
 * nothing else.
 */
export function sequentialWalker(init: SequentialWalkerOptions = {}): GraphWalkerFactory {
  const { known, signal } = init;
  return ({ blockstore, getCodec }) => ({
    async *walk<T>(root: CID, options: WalkOptions<T> = {}): AsyncGenerator<GraphNode<T>> {
      const maxDepth = options.depth ?? Infinity;
      const stack: Array<{ cid: CID; depth: number; path: CID[] }> = [{ cid: root, depth: 0, path: [root] }];
      while (stack.length > 0) {
        options.signal?.throwIfAborted();
        signal?.throwIfAborted();
        const { cid, depth, path } = stack.pop()!;
        const bytes = known?.get(cid.toString()) ?? (await readAll(await blockstore.get(cid, options)));
        const block = createUnsafe<T, number, number, 0 | 1>({
          cid: cid as CID<T, number, number, 0 | 1>,
          bytes,
          codec: await getCodec(cid.code),
        });
        if (depth < maxDepth) {
          const children: CID[] = [];
          for (const [, child] of block.links()) if (options.includeChild?.(child, block) !== false) children.push(child);
          // Pushed in reverse, so children are visited in link order.
          for (let i = children.length - 1; i >= 0; i--) stack.push({ cid: children[i]!, depth: depth + 1, path: [...path, children[i]!] });
        }
        yield { block, depth, path };
      }
    },
  });
}
