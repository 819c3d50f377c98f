// Stable external id ↔ dense index maps, saved with every model.

/** Maps external string ids to dense indices 0..size-1 in first-seen order. */
export class IdMap {
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];

  /** The dense index of `id`, adding it if new. */
  add(id: string): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      this.index.set(id, i);
      this.ids.push(id);
    }
    return i;
  }

  /** The dense index of `id`, or undefined when unknown. */
  get(id: string): number | undefined {
    return this.index.get(id);
  }

  /** The external id of dense index `i`. */
  external(i: number): string {
    const id = this.ids[i];
    if (id === undefined) throw new RangeError(`IdMap: no id at index ${i} (size ${this.ids.length})`);
    return id;
  }

  get size(): number {
    return this.ids.length;
  }

  toJSON(): string[] {
    return this.ids.slice();
  }

  static fromJSON(ids: readonly string[]): IdMap {
    const map = new IdMap();
    for (const id of ids) {
      if (map.add(id) !== map.size - 1) throw new Error(`IdMap: duplicate id "${id}"`);
    }
    return map;
  }
}
