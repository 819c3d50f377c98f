/**
 * The model version every server sharing a Redis serves: a key naming the artefact (a directory every
 * server reads at the same path: a shared volume; artefacts are not copied into Redis) and a channel. A
 * swap or rollback on any server — an operator's, or the learner's promoted student — sets the key and
 * publishes it; every server, the one that made it included, then makes that version its own (each swap
 * builds the new version before it replaces the old, so no request is dropped). All servers take the
 * messages in the channel's order, so they end on the same version even when two swap at once. A server
 * that lost its connection reads the key again when it is back: a message it missed is not lost.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import { connectRedis, ready, type RedisConfig } from "./redis.js";
import type { ModelRegistry } from "./registry.js";
import type { ServingModel } from "./model.js";

/** What the key holds and the channel carries. */
export interface SharedVersion {
  dir: string;
  version: string;
}

/** How often an announcement Redis refused (it was away) is tried again, ms. */
const RETRY_MS = 500;

export class SharedServing {
  private registry: ModelRegistry | undefined;
  /** Set while a published change is applied here: it is not announced again. */
  private following = false;
  /** The newest change not yet published (Redis was away), tried again until it is. */
  private pending: SharedVersion | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly key: string;

  private constructor(
    private readonly client: Redis,
    private readonly subscriber: Redis,
    prefix: string,
    /** The version the key named when this server started (undefined: none yet). */
    readonly recorded: SharedVersion | undefined,
    private readonly logger: FastifyBaseLogger | undefined,
  ) {
    this.key = `${prefix}serving`;
  }

  /** Connect and read the version serving, if any server recorded one. */
  static async open(config: RedisConfig, logger?: FastifyBaseLogger): Promise<SharedServing> {
    const client = connectRedis(config.url, "distillrec-serving");
    const subscriber = connectRedis(config.url, "distillrec-serving-sub");
    try {
      await ready(client, config.url);
      await ready(subscriber, config.url);
      const prefix = config.prefix ?? "distillrec:";
      const recorded = parse(await client.get(`${prefix}serving`));
      return new SharedServing(client, subscriber, prefix, recorded, logger);
    } catch (err) {
      client.disconnect();
      subscriber.disconnect();
      throw err;
    }
  }

  /**
   * Follow the published versions from now on. The version this server serves becomes the shared one if
   * none was recorded; one that differs from the record (its artefact did not load here) is reported.
   */
  async follow(registry: ModelRegistry): Promise<void> {
    this.registry = registry;
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel === this.key) this.apply(parse(message));
    });
    // Resubscribed after a reconnect: a change published meanwhile is read from the key.
    this.subscriber.on("ready", () => void this.reconcile());
    await this.subscriber.subscribe(this.key);
    const { model } = registry.current;
    const mine = JSON.stringify({ dir: model.dir, version: model.version } satisfies SharedVersion);
    await this.client.set(this.key, mine, "NX");
    await this.reconcile();
  }

  /** A version started serving here (RegistryOptions.onServe): publish it unless it came from the channel. */
  announce(model: ServingModel): void {
    if (this.following || !this.registry || this.closed) return;
    this.pending = { dir: model.dir, version: model.version };
    void this.publish();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    // A change not yet published is tried once more: a clean stop should not lose it.
    if (this.pending) await this.publish();
    this.subscriber.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  private async publish(): Promise<void> {
    const change = this.pending;
    if (!change) return;
    const text = JSON.stringify(change);
    try {
      await this.client.multi().set(this.key, text).publish(this.key, text).exec();
      if (this.pending === change) this.pending = undefined;
    } catch (err) {
      this.logger?.warn({ err, version: change.version }, "the new version could not be published yet: retrying");
      clearTimeout(this.retry);
      if (!this.closed) this.retry = setTimeout(() => void this.publish(), RETRY_MS);
    }
  }

  private async reconcile(): Promise<void> {
    try {
      this.apply(parse(await this.client.get(this.key)));
    } catch (err) {
      this.logger?.warn({ err }, "could not read the shared serving version");
    }
  }

  /** Serve `shared` here too: rolled back to if it is the previous version, else swapped to. */
  private apply(shared: SharedVersion | undefined): void {
    const registry = this.registry;
    if (!shared || !registry || this.closed || this.pending) return;
    if (registry.current.model.version === shared.version) return;
    this.following = true;
    try {
      const change = registry.previousVersion === shared.version ? registry.rollback() : registry.swap(shared.dir);
      this.logger?.info({ ...change, dir: shared.dir }, "model version changed by another server");
    } catch (err) {
      this.logger?.error({ err, dir: shared.dir }, "the version another server put in service does not load here");
    } finally {
      this.following = false;
    }
  }
}

function parse(text: string | null): SharedVersion | undefined {
  if (!text) return undefined;
  try {
    const { dir, version } = JSON.parse(text) as Partial<SharedVersion>;
    return typeof dir === "string" && typeof version === "string" ? { dir, version } : undefined;
  } catch {
    return undefined;
  }
}
