/**
 * The connection to the Redis that several servers share (docs/DEPLOY.md): the URL it is named by, the
 * client options that make a request fail fast while Redis is away, and the error that becomes a 503.
 */
import { Redis } from "ioredis";
import { HttpError } from "./errors.js";

/** Where the shared state lives: `redis://host:port[/db]`, and the prefix of every key. */
export interface RedisConfig {
  url: string;
  /** Every key and channel starts with this (default "distillrec:"): several deployments may share a database. */
  prefix?: string;
}

/** A bad --redis URL. */
export class RedisUrlError extends Error {}

/** The host, port and database a `redis://host:port[/db]` URL names; throws RedisUrlError for anything else. */
export function parseRedisUrl(url: string): { host: string; port: number; db: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(`${JSON.stringify(url)} is not a URL: expected redis://host:port[/db]`);
  }
  if (parsed.protocol !== "redis:") {
    throw new RedisUrlError(`${JSON.stringify(url)}: the scheme must be redis:// (got ${parsed.protocol}//)`);
  }
  if (!parsed.hostname)
    throw new RedisUrlError(`${JSON.stringify(url)} names no host: expected redis://host:port[/db]`);
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new RedisUrlError(
      `${JSON.stringify(url)}: only redis://host:port[/db] is understood (no credentials or query)`,
    );
  }
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, "");
  const db = path === "" ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db) || db < 0 || db > 15) {
    throw new RedisUrlError(`${JSON.stringify(url)}: the database must be a number 0 to 15 (got "${path}")`);
  }
  return { host: parsed.hostname.replace(/^\[|\]$/g, ""), port, db };
}

/**
 * A client that never queues a command while disconnected and never retries one: a request fails at once
 * with the reason (a 503) rather than waiting for Redis to come back, and it keeps reconnecting meanwhile.
 */
export function connectRedis(url: string, name: string): Redis {
  const { host, port, db } = parseRedisUrl(url);
  const client = new Redis({
    host,
    port,
    db,
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command Redis does not answer (it hangs, or the network does) fails rather than holding a request.
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(50 * attempt, 500),
  });
  // Failures reach the commands that hit them; the client's own event would otherwise be an unhandled error.
  client.on("error", () => undefined);
  return client;
}

/** Redis did not answer when a server started: it does not start without its shared state. */
export class RedisUnreachableError extends Error {}

/** Connect, or throw a clear error naming the URL. */
export async function ready(client: Redis, url: string): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new RedisUnreachableError(`cannot reach Redis at ${url}: ${(err as Error).message}`, { cause: err });
  }
}

/** Redis could not be reached or did not answer: the request fails with 503 and the reason, and may be retried. */
export function unavailable(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  return new HttpError(503, `the shared store (Redis) is unavailable: ${(err as Error).message}; retry later`);
}
