/**
 * A binary min-heap of small integer ids ordered by a numeric key, with
 * ties broken by id so the order is deterministic. Keys live in the caller's
 * array; the heap stores ids only, so pushing and popping allocate nothing.
 */
export class IndexHeap {
  private readonly ids: Int32Array;
  private size = 0;
  constructor(
    capacity: number,
    private readonly keys: Float64Array,
  ) {
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  get length(): number {
    return this.size;
  }

  clear(): void {
    this.size = 0;
  }

  push(id: number): void {
    const ids = this.ids;
    let i = this.size++;
    ids[i] = id;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(ids[i]!, ids[parent]!)) break;
      const t = ids[i]!;
      ids[i] = ids[parent]!;
      ids[parent] = t;
      i = parent;
    }
  }

  pop(): number {
    const ids = this.ids;
    const top = ids[0]!;
    const last = ids[--this.size]!;
    if (this.size > 0) {
      ids[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && this.less(ids[l]!, ids[m]!)) m = l;
        if (r < this.size && this.less(ids[r]!, ids[m]!)) m = r;
        if (m === i) break;
        const t = ids[i]!;
        ids[i] = ids[m]!;
        ids[m] = t;
        i = m;
      }
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const ka = this.keys[a]!;
    const kb = this.keys[b]!;
    return ka < kb || (ka === kb && a < b);
  }
}
