/**
 * One learner among many servers: every server started with a learner competes for a lease in Redis (a
 * key with an expiry, renewed while its holder lives); only the holder runs the learner. When the holder
 * dies, even by kill -9, its lease runs out and another server takes it and starts learning: from the
 * student serving, after the last event that student learned (the shared event log still holds the rest).
 * A holder that cannot renew its lease for as long as it lasts stops learning by itself, so two learners
 * never run once Redis gives the lease to another.
 *
 * The holder also reads the stream through a consumer group ("learner"), acknowledging each entry once its
 * learner has been handed it, and claims what a dead holder left pending: `XINFO GROUPS <prefix>log` shows
 * how far behind the stream the learning server is. Where learning resumes is not the group's cursor but
 * the serving student's own record of the last event it learned (what a dead learner had not published is
 * learned again).
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { connectRedis, ready, type RedisConfig } from "./redis.js";
import type { Learner, LearnerFactory, LearnerParts } from "./learner.js";

export interface LeaseOptions {
  /** How long a lease lasts without renewal, ms (default 10 000): the longest a dead learner is missed. */
  ttlMs?: number;
}

/** The consumer group of the learning server on the stream. */
const GROUP = "learner";

// Renew or release only a lease this process holds.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** `factory`'s learner, run only in the server holding the lease. */
export function leasedLearner(
  factory: LearnerFactory,
  config: RedisConfig,
  options: LeaseOptions = {},
): LearnerFactory {
  return (request) => {
    const inner = factory(request);
    return {
      serve: inner.serve,
      start: (parts) => LeasedLearner.start(inner.start, parts, config, options.ttlMs ?? 10_000),
    };
  };
}

export class LeasedLearner implements Learner {
  private learner: Learner | undefined;
  private starting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** When the lease was last taken or renewed (performance.now()). */
  private renewedAt = -Infinity;
  private readonly holder = randomUUID();
  private consuming: Promise<void> | undefined;
  private consumeAgain = false;

  private constructor(
    private readonly startInner: (parts: LearnerParts) => Promise<Learner>,
    private readonly parts: LearnerParts,
    private readonly client: Redis,
    private readonly key: string,
    private readonly stream: string,
    private readonly ttlMs: number,
  ) {}

  static async start(
    startInner: (parts: LearnerParts) => Promise<Learner>,
    parts: LearnerParts,
    config: RedisConfig,
    ttlMs: number,
  ): Promise<LeasedLearner> {
    if (!(Number.isInteger(ttlMs) && ttlMs >= 100))
      throw new RangeError(`lease ttlMs must be an integer ≥ 100 (got ${ttlMs})`);
    const client = connectRedis(config.url, "distillrec-learner");
    await ready(client, config.url);
    const prefix = config.prefix ?? "distillrec:";
    const leased = new LeasedLearner(startInner, parts, client, `${prefix}learner`, `${prefix}log`, ttlMs);
    await leased.tick();
    return leased;
  }

  /** Whether this server holds the lease and learns. */
  get learning(): boolean {
    return this.learner !== undefined;
  }

  notify(): void {
    this.learner?.notify();
    if (this.learner) void this.consume();
  }

  get error(): string | undefined {
    return this.learner?.error;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.starting;
    await this.stopLearning();
    await this.client.eval(RELEASE, 1, this.key, this.holder).catch(() => undefined);
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /** Take or renew the lease, start or stop learning accordingly, and come back in a third of the lease. */
  private async tick(): Promise<void> {
    try {
      const held = this.learner
        ? (await this.client.eval(RENEW, 1, this.key, this.holder, this.ttlMs)) === 1
        : (await this.client.set(this.key, this.holder, "PX", this.ttlMs, "NX")) === "OK";
      if (held) this.renewedAt = performance.now();
      if (held && !this.learner && !this.closed) {
        this.parts.logger?.info({ holder: this.holder }, "learner lease taken: this server learns");
        this.starting = this.begin();
        await this.starting;
      } else if (!held && this.learner) {
        this.parts.logger?.warn({}, "learner lease lost to another server: learning stops here");
        await this.stopLearning();
      }
    } catch (err) {
      // Redis is away: keep learning only as long as the lease could still be ours.
      if (this.learner && performance.now() - this.renewedAt >= this.ttlMs) {
        this.parts.logger?.warn({ err }, "learner lease not renewed in time: learning stops here");
        await this.stopLearning();
      }
    }
    if (!this.closed) this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
  }

  /** Take the group's new entries (and a dead holder's pending ones) and acknowledge them: the learner has them. */
  private async consume(): Promise<void> {
    if (this.consuming) {
      this.consumeAgain = true;
      return;
    }
    this.consuming = (async () => {
      do {
        this.consumeAgain = false;
        try {
          const claimed = (await this.client.xautoclaim(
            this.stream,
            GROUP,
            this.holder,
            0,
            "0-0",
            "COUNT",
            10_000,
          )) as [string, [string, unknown][]];
          const ids = claimed[1].map(([id]) => id);
          for (;;) {
            const reply = (await this.client.xreadgroup(
              "GROUP",
              GROUP,
              this.holder,
              "COUNT",
              10_000,
              "STREAMS",
              this.stream,
              ">",
            )) as [string, [string, unknown][]][] | null;
            const entries = reply?.[0]?.[1] ?? [];
            ids.push(...entries.map(([id]) => id));
            if (entries.length < 10_000) break;
          }
          if (ids.length > 0) await this.client.xack(this.stream, GROUP, ...ids);
        } catch (err) {
          // Redis is away: the next notification or tick reads on from the group's cursor.
          this.parts.logger?.debug?.({ err }, "learner group not read");
        }
      } while (this.consumeAgain && this.learner);
    })();
    await this.consuming;
    this.consuming = undefined;
  }

  private async begin(): Promise<void> {
    try {
      await this.client.xgroup("CREATE", this.stream, GROUP, "0", "MKSTREAM").catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
      // It learns on the version serving now, which may be a student the previous holder published.
      this.learner = await this.startInner({ ...this.parts, serving: this.parts.registry.current.model.dir });
      this.notify();
    } catch (err) {
      this.parts.logger?.error({ err }, "online learning could not start: the lease is released");
      await this.client.eval(RELEASE, 1, this.key, this.holder).catch(() => undefined);
    } finally {
      this.starting = undefined;
    }
  }

  private async stopLearning(): Promise<void> {
    const learner = this.learner;
    this.learner = undefined;
    await learner?.close();
  }
}
