// Accumulates interaction rows into columnar typed arrays that double when full.
import type { Interactions } from "../types.js";

/** Grows the five Interactions columns by doubling; `finish` trims them to length. */
export class InteractionBuilder {
  length = 0;
  private users: Int32Array;
  private items: Int32Array;
  private values: Float32Array;
  private timestamps: Float64Array;
  private eventTypes: Uint8Array;

  constructor(initialCapacity = 1 << 16) {
    this.users = new Int32Array(initialCapacity);
    this.items = new Int32Array(initialCapacity);
    this.values = new Float32Array(initialCapacity);
    this.timestamps = new Float64Array(initialCapacity);
    this.eventTypes = new Uint8Array(initialCapacity);
  }

  /** Appends one row. */
  push(user: number, item: number, value: number, timestamp: number, eventType: number): void {
    if (this.length === this.users.length) this.grow();
    const r = this.length++;
    this.users[r] = user;
    this.items[r] = item;
    this.values[r] = value;
    this.timestamps[r] = timestamp;
    this.eventTypes[r] = eventType;
  }

  /** The rows so far as Interactions; columns are copied to size unless little capacity is unused. */
  finish(): Interactions {
    const n = this.length;
    const fit = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(column: T): T =>
      (n >= column.length * 0.9 ? column.subarray(0, n) : column.slice(0, n)) as T;
    return {
      length: n,
      users: fit(this.users),
      items: fit(this.items),
      values: fit(this.values),
      timestamps: fit(this.timestamps),
      eventTypes: fit(this.eventTypes),
    };
  }

  private grow(): void {
    const capacity = this.users.length * 2;
    const users = new Int32Array(capacity);
    users.set(this.users);
    this.users = users;
    const items = new Int32Array(capacity);
    items.set(this.items);
    this.items = items;
    const values = new Float32Array(capacity);
    values.set(this.values);
    this.values = values;
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.timestamps);
    this.timestamps = timestamps;
    const eventTypes = new Uint8Array(capacity);
    eventTypes.set(this.eventTypes);
    this.eventTypes = eventTypes;
  }
}
