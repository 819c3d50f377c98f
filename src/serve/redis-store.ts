/**
 * The event store shared by several servers, in Redis (docs/DEPLOY.md). Every write — a batch of events or
 * of catalogue items — is one entry of a Redis Stream, so all servers see the same writes in the same
 * order; an event batch takes its sequence numbers in the same Lua script that appends it, and is
 * acknowledged once Redis answers (durable as far as Redis' appendonly/appendfsync make it).
 *
 * Each server keeps a local view of the stream (the events and items, in memory) and brings it up to date
 * before it answers a request (sync(): one XREAD of what is new), so its users' histories, popularity and
 * catalogue — rebuilt from the same entries in the same order — are those of every other server, and an
 * event acknowledged by one server is in the next answer of any. A blocking read on a second connection
 * keeps an idle server's view current too.
 *
 * Memory: the view holds every event (about 100 bytes each) and item: 10 million events ≈ 1 GB per server.
 */
import type { Redis } from "ioredis";
import { connectRedis, ready, unavailable, type RedisConfig } from "./redis.js";
import {
  checkAppend,
  checkFromSeq,
  checkItems,
  type AppendOptions,
  type AppendResult,
  type FeedbackEvent,
  type FeedbackStore,
  type ItemRecord,
  type StoredEvent,
} from "./store.js";

/** What a server does with the entries another one wrote (and its own), in stream order. */
export interface SharedStoreListener {
  events(events: readonly StoredEvent[]): void;
  items(items: readonly ItemRecord[]): void;
}

/** How long Redis remembers a batch id: a client retrying later than this stores the batch again. */
export const BATCH_ID_TTL_MS = 24 * 3600 * 1000;

/** Entries read at a time. */
const READ_COUNT = 5_000;

type EventTuple = [user: string, item: string, type: string, timestamp: number, value?: number];

// KEYS: the sequence counter, the stream, the batch id's key. ARGV: event count, payload, with an id (1/0), ttl.
// The counter moves in the same script as the entry is added, so stream order is sequence order.
const APPEND = `
if ARGV[3] == '1' then
  local done = redis.call('GET', KEYS[3])
  if done then return done end
end
local n = tonumber(ARGV[1])
local first = redis.call('INCRBY', KEYS[1], n) - n
redis.call('XADD', KEYS[2], '*', 'k', 'e', 's', first, 'd', ARGV[2])
if ARGV[3] == '1' then redis.call('SET', KEYS[3], first, 'PX', ARGV[4]) end
return tostring(first)
`;

interface AppendCommand {
  distillrecAppend(
    seqKey: string,
    streamKey: string,
    batchKey: string,
    count: number,
    payload: string,
    withId: string,
    ttl: number,
  ): Promise<string>;
}

export class RedisStore implements FeedbackStore {
  /** Told of every entry read from the stream, after the local view has it. */
  listener: SharedStoreListener | undefined;
  private readonly log: EventTuple[] = [];
  private readonly itemMap = new Map<string, Omit<ItemRecord, "id">>();
  /** The id of the last stream entry in the local view. */
  private lastId = "0-0";
  private reading: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private readonly keys: { seq: string; stream: string; batch: string };
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: Redis,
    /** A second connection for the blocking read that wakes an idle server. */
    private readonly blocker: Redis,
    prefix: string,
  ) {
    this.keys = { seq: `${prefix}seq`, stream: `${prefix}log`, batch: `${prefix}batch:` };
    client.defineCommand("distillrecAppend", { numberOfKeys: 3, lua: APPEND });
  }

  /** Connect and read the whole stream into the local view. */
  static async open(config: RedisConfig): Promise<RedisStore> {
    const client = connectRedis(config.url, "distillrec-store");
    const blocker = connectRedis(config.url, "distillrec-tail");
    await ready(client, config.url);
    try {
      await ready(blocker, config.url);
    } catch (err) {
      client.disconnect();
      throw err;
    }
    const store = new RedisStore(client, blocker, config.prefix ?? "distillrec:");
    try {
      await store.sync();
    } catch (err) {
      client.disconnect();
      blocker.disconnect();
      throw err;
    }
    store.tail = store.follow();
    return store;
  }

  async append(events: readonly FeedbackEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    this.checkOpen();
    // The same checks as the embedded store: what one refuses, the other does.
    checkAppend(events, options);
    const payload = JSON.stringify(events.map(toTuple));
    let first: number;
    try {
      const reply = await (this.client as unknown as AppendCommand).distillrecAppend(
        this.keys.seq,
        this.keys.stream,
        this.keys.batch + (options.id ?? ""),
        events.length,
        payload,
        options.id === undefined ? "0" : "1",
        BATCH_ID_TTL_MS,
      );
      first = Number(reply);
    } catch (err) {
      throw unavailable(err);
    }
    // The local view (and so this server's next answer) includes the batch before it is acknowledged.
    await this.sync();
    return { first, count: events.length };
  }

  count(): number {
    return this.log.length;
  }

  *events(fromSeq = 0): Iterable<StoredEvent> {
    checkFromSeq(fromSeq);
    const end = this.log.length;
    for (let seq = fromSeq; seq < end; seq++) yield fromTuple(this.log[seq]!, seq);
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    this.checkOpen();
    checkItems(items);
    const payload = JSON.stringify(items);
    try {
      await this.client.xadd(this.keys.stream, "*", "k", "i", "d", payload);
    } catch (err) {
      throw unavailable(err);
    }
    await this.sync();
  }

  item(id: string): ItemRecord | undefined {
    const value = this.itemMap.get(id);
    return value && { id, ...value };
  }

  *items(): Iterable<ItemRecord> {
    for (const [id, value] of this.itemMap) yield { id, ...value };
  }

  /**
   * Read what the stream holds past the local view. A read already under way may have been sent before
   * the caller's write was acknowledged, so callers meanwhile share the next one: it sees all they saw.
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(unavailable(new Error("the store is closed")));
    if (!this.reading) {
      this.reading = this.readNew().finally(() => (this.reading = undefined));
      return this.reading;
    }
    this.queued ??= this.reading
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.sync();
      });
    return this.queued;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.blocker.disconnect();
    await this.tail;
    await this.reading?.catch(() => undefined);
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private checkOpen(): void {
    if (this.closed) throw new Error("RedisStore: the store is closed");
  }

  private async readNew(): Promise<void> {
    for (;;) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.client.xread(
          "COUNT",
          READ_COUNT,
          "STREAMS",
          this.keys.stream,
          this.lastId,
        )) as typeof reply;
      } catch (err) {
        throw unavailable(err);
      }
      const entries = reply?.[0]?.[1] ?? [];
      for (const [id, fields] of entries) {
        this.take(fields);
        this.lastId = id;
      }
      if (entries.length < READ_COUNT) return;
    }
  }

  /** Add one stream entry to the local view and tell the listener. */
  private take(fields: string[]): void {
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    const data = field("d") ?? "[]";
    if (field("k") === "e") {
      const first = Number(field("s"));
      if (first !== this.log.length) {
        // Only a stream edited by hand (or a Redis restarted without its data) gets here.
        throw unavailable(
          new Error(`the event log in Redis jumps from sequence ${this.log.length} to ${first}: was Redis reset?`),
        );
      }
      const tuples = JSON.parse(data) as EventTuple[];
      for (const tuple of tuples) this.log.push(tuple);
      this.listener?.events(tuples.map((t, j) => fromTuple(t, first + j)));
    } else if (field("k") === "i") {
      const items = JSON.parse(data) as ItemRecord[];
      // An id keeps the place of its first entry, as its catalogue index does.
      for (const { id, features, updatedAt } of items) this.itemMap.set(id, { features, updatedAt });
      this.listener?.items(items);
    }
  }

  /** Wait on the stream for entries past the view (a blocking read) and sync when there are. */
  private async follow(): Promise<void> {
    while (!this.closed) {
      try {
        const reply = await this.blocker.xread("COUNT", 1, "BLOCK", 1_000, "STREAMS", this.keys.stream, this.lastId);
        if (reply && !this.closed) await this.sync();
      } catch {
        // Redis is away: requests answer 503 meanwhile; try again shortly.
        if (!this.closed) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

function toTuple(e: FeedbackEvent): EventTuple {
  return e.value === undefined ? [e.user, e.item, e.type, e.timestamp] : [e.user, e.item, e.type, e.timestamp, e.value];
}

function fromTuple([user, item, type, timestamp, value]: EventTuple, seq: number): StoredEvent {
  return value === undefined || value === null
    ? { seq, user, item, type, timestamp }
    : { seq, user, item, type, value, timestamp };
}
