/**
 * Bounded room for ids a model never trained on. A stream keeps bringing new users and items, most seen
 * once; giving each a row of its own would grow the tables without end. IdSlots hands out a fixed number
 * of rows (slots) and, when all are taken, recycles the least recently seen id's slot — so memory stays
 * at `capacity` rows however long the stream, and an id that stays active keeps its row.
 */

/** Where an id landed. */
export interface SlotAssignment {
  slot: number;
  /** The slot was (re)assigned just now: its row must be reset before use. */
  fresh: boolean;
  /** The id whose slot was recycled, if any. */
  evicted?: string;
}

export class IdSlots {
  /** id → slot, in least- to most-recently-seen order (a Map keeps insertion order; a touch re-inserts). */
  private readonly slots = new Map<string, number>();
  private readonly owners: (string | undefined)[];
  private nextFree = 0;
  /** Ids that lost their slot to a newer one, since construction. */
  evictions = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`IdSlots: capacity must be a positive integer (got ${capacity})`);
    }
    this.owners = new Array<string | undefined>(capacity);
  }

  /** The slot of `id`, without touching its recency. */
  get(id: string): number | undefined {
    return this.slots.get(id);
  }

  /** The id holding `slot`, if any. */
  owner(slot: number): string | undefined {
    return this.owners[slot];
  }

  /** Slots in use. */
  get size(): number {
    return this.slots.size;
  }

  /** The slot of `id`, marking it most recently seen; a new id takes a free slot or the stalest one. */
  assign(id: string): SlotAssignment {
    const known = this.slots.get(id);
    if (known !== undefined) {
      this.slots.delete(id);
      this.slots.set(id, known);
      return { slot: known, fresh: false };
    }
    if (this.nextFree < this.capacity) {
      const slot = this.nextFree++;
      this.slots.set(id, slot);
      this.owners[slot] = id;
      return { slot, fresh: true };
    }
    const [stalest, slot] = this.slots.entries().next().value as [string, number];
    this.slots.delete(stalest);
    this.slots.set(id, slot);
    this.owners[slot] = id;
    this.evictions++;
    return { slot, fresh: true, evicted: stalest };
  }

  /** Occupied slots with their ids, in slot order. */
  entries(): [slot: number, id: string][] {
    const out: [number, string][] = [];
    for (let s = 0; s < this.nextFree; s++) out.push([s, this.owners[s]!]);
    return out;
  }

  /** A copy with the same assignments and recency order. */
  clone(): IdSlots {
    const copy = new IdSlots(this.capacity);
    for (const [id, slot] of this.slots) copy.slots.set(id, slot);
    for (let s = 0; s < this.nextFree; s++) copy.owners[s] = this.owners[s];
    copy.nextFree = this.nextFree;
    copy.evictions = this.evictions;
    return copy;
  }
}

/**
 * Approximately how often each id was seen recently, in fixed memory (a count-min sketch, as TinyLFU): the
 * frequency filter that keeps a flood of ids seen once from taking slots. A count is never below the true
 * one and rarely above it; every `8 × width` sightings all counts halve, so old sightings fade.
 */
export class Sightings {
  private readonly counts: Uint16Array;
  private additions = 0;

  constructor(
    /** Counters per row (a power of two). */
    readonly width = 1 << 16,
    readonly depth = 4,
  ) {
    if (!Number.isSafeInteger(Math.log2(width)) || depth < 1) {
      throw new RangeError(`Sightings: width must be a power of two and depth ≥ 1 (got ${width}, ${depth})`);
    }
    this.counts = new Uint16Array(width * depth);
  }

  /** Count a sighting of `id`; returns its (estimated) count, this one included. */
  see(id: string): number {
    let min = Infinity;
    for (let row = 0; row < this.depth; row++) {
      const at = row * this.width + (hash(id, row) & (this.width - 1));
      if (this.counts[at]! < 0xffff) this.counts[at]!++;
      min = Math.min(min, this.counts[at]!);
    }
    if (++this.additions >= 8 * this.width) this.age();
    return min;
  }

  /** A copy with the same counts. */
  clone(): Sightings {
    const copy = new Sightings(this.width, this.depth);
    copy.counts.set(this.counts);
    copy.additions = this.additions;
    return copy;
  }

  private age(): void {
    for (let k = 0; k < this.counts.length; k++) this.counts[k]! >>= 1;
    this.additions = 0;
  }
}

/** FNV-1a over the id's UTF-16 code units, seeded per row. */
function hash(id: string, row: number): number {
  let h = (0x811c9dc5 ^ Math.imul(row + 1, 0x9e3779b1)) >>> 0;
  for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
  // A final mix so rows differ in their low bits too.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
