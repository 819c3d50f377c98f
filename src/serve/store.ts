/**
 * The server's durable state: every feedback event (in arrival order, each with a sequence number) and every
 * catalogue change, in an LMDB environment in one directory. A write is acknowledged (its promise resolves)
 * only once its transaction is committed and synced to disk, so a crash, even kill -9, loses nothing that was
 * acknowledged; a restart replays the events to rebuild what lives only in memory (users' recent items).
 * One process writes a store at a time (the server that opened it): it keeps the event counter in memory.
 */
import { mkdirSync } from "node:fs";
import { open, type Database, type RootDatabase } from "lmdb";

/** One piece of feedback: `user` did `type` ("click", "purchase", …) to `item` at `timestamp`. */
export interface FeedbackEvent {
  user: string;
  item: string;
  type: string;
  /** A rating, a watch time, …: whatever the type carries. */
  value?: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** A stored event with its sequence number (0 for the first event ever stored). */
export type StoredEvent = FeedbackEvent & { seq: number };

/** An item of the catalogue and its raw features (what PUT /v1/items sent). */
export interface ItemRecord {
  id: string;
  features: Record<string, string | string[] | number>;
  /** Milliseconds since the epoch. */
  updatedAt: number;
}

/** The sequence numbers a batch of events received: first, first + 1, …, first + count - 1. */
export interface AppendResult {
  first: number;
  count: number;
}

/** Ids are LMDB keys (items) or stored beside them; LMDB keys hold at most 1978 bytes. */
export const MAX_ID_BYTES = 1024;

/**
 * Input the store refuses (an empty id, a lone surrogate, a timestamp that is not a number, …); nothing of
 * it was written.
 */
export class StoreInputError extends Error {
  /** The client's input is at fault: an HTTP answer is a 400 (the app's error handler reads statusCode). */
  readonly statusCode = 400;
}

// Events are stored as tuples: msgpack then writes no field names.
type EventTuple = [user: string, item: string, type: string, timestamp: number, value?: number];
type ItemValue = Omit<ItemRecord, "id">;

const NEXT_SEQ = "nextSeq";

interface PendingAppend {
  events: readonly FeedbackEvent[];
  id: string | undefined;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/**
 * What the server keeps durably, whatever keeps it: the embedded LMDB store below (the default) or Redis,
 * shared by several servers (./redis-store.ts). Reads are synchronous: a shared store keeps a local view
 * of the shared log, brought up to date by sync().
 */
export interface FeedbackStore {
  /** Store a batch of events; resolves with their sequence numbers once they are durable. */
  append(events: readonly FeedbackEvent[], options?: AppendOptions): Promise<AppendResult>;
  /** Events stored so far (as far as this process has seen them). */
  count(): number;
  /** The stored events from sequence number `fromSeq` on, in order. */
  events(fromSeq?: number): Iterable<StoredEvent>;
  /** Add or replace items; resolves once they are durable. */
  upsertItems(items: readonly ItemRecord[]): Promise<void>;
  item(id: string): ItemRecord | undefined;
  items(): Iterable<ItemRecord>;
  /**
   * A shared store: see every write acknowledged anywhere before this call (the events and items written
   * elsewhere reach the store's listener first). Absent: the process is the only writer.
   */
  sync?(): Promise<void>;
  close(): Promise<void>;
}

export interface AppendOptions {
  /**
   * The client's id for the batch (an Idempotency-Key): a batch appended again with the same id is not
   * stored twice, and gets the first append's result.
   */
  id?: string;
}

export class EventStore implements FeedbackStore {
  /** Appends waiting for the write in flight to finish; they are then written together, in one transaction. */
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly root: RootDatabase,
    private readonly eventsDb: Database<EventTuple, number>,
    private readonly itemsDb: Database<ItemValue, string>,
    private readonly metaDb: Database<number, string>,
    /** Batch ids (Idempotency-Keys) → the result their first append got. */
    private readonly batchesDb: Database<AppendResult, string>,
    /** Events committed so far: the next event's sequence number. */
    private nextSeq: number,
  ) {}

  /** Open (creating it if needed) the store in directory `dir`. */
  static open(dir: string): EventStore {
    mkdirSync(dir, { recursive: true });
    const root = open({
      path: dir,
      // Without overlapping sync, a commit's promise resolves only after LMDB has synced it to disk; with it
      // (lmdb-js's default on Linux) the promise resolves once the commit is visible and the sync follows.
      // noSync, noMetaSync and commitDelay stay at their defaults: every commit is synced, none is delayed.
      overlappingSync: false,
    });
    const metaDb = root.openDB<number, string>({ name: "meta" });
    return new EventStore(
      root,
      root.openDB<EventTuple, number>({ name: "events" }),
      root.openDB<ItemValue, string>({ name: "items" }),
      metaDb,
      root.openDB<AppendResult, string>({ name: "batches" }),
      metaDb.get(NEXT_SEQ) ?? 0,
    );
  }

  /**
   * Store a batch of events atomically; resolves with their sequence numbers once they are on disk. Batches
   * appended while a write is in flight are committed together, in the order they were appended. A batch
   * with the id of one stored before is not stored again: it resolves with that one's result.
   */
  async append(events: readonly FeedbackEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.checkOpen();
    checkAppend(events, options);
    return new Promise((resolve, reject) => {
      this.queue.push({ events, id: options.id, resolve, reject });
      this.writeQueued();
    });
  }

  /** Events stored so far. */
  count(): number {
    return this.nextSeq;
  }

  /** The stored events from sequence number `fromSeq` on, in order (read lazily from one snapshot). */
  *events(fromSeq = 0): Iterable<StoredEvent> {
    checkFromSeq(fromSeq);
    // Bounded by the counter: only events of a committed append count, whatever else a failed write left.
    for (const { key, value } of this.eventsDb.getRange({ start: fromSeq, end: this.nextSeq })) {
      const [user, item, type, timestamp, eventValue] = value;
      yield eventValue === undefined
        ? { seq: key, user, item, type, timestamp }
        : { seq: key, user, item, type, value: eventValue, timestamp };
    }
  }

  /** Add or replace items, atomically; resolves once they are on disk. The last of one id in a batch wins. */
  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    this.checkOpen();
    checkItems(items);
    await this.root.batch(() => {
      for (const { id, features, updatedAt } of items) void this.itemsDb.put(id, { features, updatedAt });
    });
  }

  /** The item stored under `id`, if any. */
  item(id: string): ItemRecord | undefined {
    // An ill-formed id is never stored, and its UTF-8 key would be another id's.
    if (loneSurrogate(id) >= 0) return undefined;
    const value = this.itemsDb.get(id);
    return value && { id, ...value };
  }

  /** Every stored item, by id. */
  *items(): Iterable<ItemRecord> {
    for (const { key, value } of this.itemsDb.getRange()) yield { id: key, ...value };
  }

  /** Finish the writes under way (appends already called are still acknowledged), then close. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    await this.root.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("EventStore: the store is closed");
  }

  /**
   * Write every queued append in one transaction unless a write is in flight (its end writes the next
   * group). One writer at a time keeps sequence numbers consecutive: the counter moves only when a commit
   * succeeds, so the appends of a failed commit are refused and their numbers go to the next ones. (The
   * counter is not read and bumped inside the transaction because db.transaction() never ran its callback
   * with lmdb 3.5.6 on Node 20; batch() commits its puts in one transaction just as well.)
   */
  private writeQueued(): void {
    if (this.writing || this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    let seq = this.nextSeq;
    // Ids seen in this group or committed before: a retried batch gets the first one's result and no seqs.
    const seen = new Map<string, AppendResult>();
    const fresh: boolean[] = [];
    const results = group.map(({ events, id }) => {
      const earlier = id === undefined ? undefined : (seen.get(id) ?? this.batchesDb.get(id));
      fresh.push(!earlier);
      if (earlier) return earlier;
      const result = { first: seq, count: events.length };
      seq += events.length;
      if (id !== undefined) seen.set(id, result);
      return result;
    });
    let committed: Promise<unknown>;
    try {
      committed = this.root.batch(() => {
        group.forEach(({ events, id }, i) => {
          if (!fresh[i]) return;
          const result = results[i]!;
          events.forEach((e, j) => void this.eventsDb.put(result.first + j, toTuple(e)));
          if (id !== undefined) void this.batchesDb.put(id, result);
        });
        void this.metaDb.put(NEXT_SEQ, seq);
      });
    } catch (err) {
      committed = Promise.reject(err);
    }
    this.writing = committed.then(
      () => {
        this.nextSeq = seq;
        group.forEach((pending, i) => pending.resolve(results[i]!));
      },
      (err: unknown) => group.forEach((pending) => pending.reject(err)),
    );
    void this.writing.finally(() => {
      this.writing = undefined;
      this.writeQueued();
    });
  }
}

function toTuple(e: FeedbackEvent): EventTuple {
  return e.value === undefined ? [e.user, e.item, e.type, e.timestamp] : [e.user, e.item, e.type, e.timestamp, e.value];
}

/** Refuse (StoreInputError) a batch any store would refuse; every store checks the same way. */
export function checkAppend(events: readonly FeedbackEvent[], options: AppendOptions): void {
  checkEvents(events);
  if (options.id !== undefined) checkId(options.id, "the batch id");
}

export function checkFromSeq(fromSeq: number): void {
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new StoreInputError(`events: fromSeq must be an integer ≥ 0 (got ${fromSeq})`);
  }
}

function checkEvents(events: readonly FeedbackEvent[]): void {
  if (!Array.isArray(events)) throw new StoreInputError("append: events must be an array");
  events.forEach((e: unknown, i) => {
    const where = `events[${i}]`;
    if (typeof e !== "object" || e === null) throw new StoreInputError(`${where} must be an object`);
    const { user, item, type, value, timestamp } = e as Record<string, unknown>;
    checkId(user, `${where}.user`);
    checkId(item, `${where}.item`);
    checkId(type, `${where}.type`);
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value))) {
      throw new StoreInputError(`${where}.value must be a finite number when present (got ${shown(value)})`);
    }
    checkTimestamp(timestamp, `${where}.timestamp`);
  });
}

export function checkItems(items: readonly ItemRecord[]): void {
  if (!Array.isArray(items)) throw new StoreInputError("upsertItems: items must be an array");
  items.forEach((record: unknown, i) => {
    const where = `items[${i}]`;
    if (typeof record !== "object" || record === null) throw new StoreInputError(`${where} must be an object`);
    const { id, features, updatedAt } = record as Record<string, unknown>;
    checkId(id, `${where}.id`);
    if (typeof features !== "object" || features === null || Array.isArray(features)) {
      throw new StoreInputError(`${where}.features must be an object (got ${shown(features)})`);
    }
    for (const [name, feature] of Object.entries(features)) {
      checkWellFormed(name, `${where}.features: a feature name`);
      for (const token of typeof feature === "string" ? [feature] : Array.isArray(feature) ? feature : []) {
        if (typeof token === "string") checkWellFormed(token, `${where}.features.${name}`);
      }
      const valid =
        typeof feature === "string" ||
        (typeof feature === "number" && Number.isFinite(feature)) ||
        (Array.isArray(feature) && feature.every((token) => typeof token === "string"));
      if (!valid) {
        throw new StoreInputError(
          `${where}.features.${name} must be a string, a finite number or an array of strings (got ${shown(feature)})`,
        );
      }
    }
    checkTimestamp(updatedAt, `${where}.updatedAt`);
  });
}

function checkId(id: unknown, where: string): void {
  if (typeof id !== "string" || id.length === 0) {
    throw new StoreInputError(`${where} must be a non-empty string (got ${shown(id)})`);
  }
  checkWellFormed(id, where);
  if (Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw new StoreInputError(`${where} is longer than ${MAX_ID_BYTES} bytes (${Buffer.byteLength(id)})`);
  }
}

/**
 * Keys and values are stored as UTF-8, which has no code for a lone surrogate: it would come back as U+FFFD,
 * another string (and so another user or item). Such strings are refused rather than silently changed.
 */
function checkWellFormed(text: string, where: string): void {
  const at = loneSurrogate(text);
  if (at >= 0) {
    const unit = text.charCodeAt(at).toString(16).toUpperCase();
    throw new StoreInputError(`${where} is not well-formed Unicode: a lone surrogate (U+${unit}) at index ${at}`);
  }
}

/** The index of the first lone surrogate in `text`, or -1 (with the u flag, a paired surrogate is one code point). */
function loneSurrogate(text: string): number {
  return text.search(/[\uD800-\uDFFF]/u);
}

function checkTimestamp(timestamp: unknown, where: string): void {
  if (typeof timestamp !== "number" || !Number.isFinite(timestamp) || timestamp < 0) {
    throw new StoreInputError(`${where} must be a finite number of ms since the epoch, ≥ 0 (got ${shown(timestamp)})`);
  }
}

/** A refused value as the message shows it: NaN and undefined stay readable, strings are quoted. */
function shown(value: unknown): string {
  if (typeof value === "number" || value === undefined) return String(value);
  if (typeof value === "string") return value.length > 40 ? `"${value.slice(0, 40)}…"` : JSON.stringify(value);
  return Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
}
