/**
 * Start and stop a recommendation server: the durable store, the model registry over it, the HTTP
 * application, and a clean shutdown (stop accepting, finish requests in flight, close the store).
 */
import { dirname, join, resolve } from "node:path";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { buildApp, type ServeLimits } from "./app.js";
import { ServeMetrics } from "./metrics.js";
import { ModelRegistry } from "./registry.js";
import type { IndexFactory } from "./model.js";
import { ExactIndex, IvfIndex } from "../engine/retrieval.js";
import { EventStore, type FeedbackStore } from "./store.js";
import type { RedisConfig } from "./redis.js";
import { RedisStore } from "./redis-store.js";
import { SharedServing } from "./redis-serving.js";
import { leasedLearner } from "./redis-lease.js";
import type { Learner, LearnerFactory } from "./learner.js";

export type { Learner, LearnerFactory, LearnerParts } from "./learner.js";

export interface ServerOptions {
  /** The model artefact to serve first (unless a restart resumes the version recorded in `stateDir`). */
  model: string;
  /** The only directory swaps from clients may name artefacts in (default: the one holding `model`). */
  modelsDir?: string;
  /**
   * Where the event log and catalogue changes live (an LMDB environment; created if absent). With `redis`,
   * only the learner's published students are written here: a directory every server shares.
   */
  stateDir: string;
  /**
   * Share the state with other servers through Redis (docs/DEPLOY.md): events, items and the serving version
   * live there, and the learner runs in one server at a time. Without it, the embedded LMDB store.
   */
  redis?: RedisConfig & {
    /** How long the learner's lease lasts without renewal, ms (default 10 000). */
    leaseTtlMs?: number;
  };
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  /** "exact" scans every item; "ivf" probes inverted lists; "auto" (default) uses IVF from IVF_FROM items. */
  index?: "exact" | "ivf" | "auto";
  bodyLimit?: number;
  /** Timeouts, the connection cap, load shedding and rate limits (app.ts: ServeLimits, DEFAULT_LIMITS). */
  limits?: ServeLimits;
  logger?: FastifyBaseLogger | false;
  /** Something that learns from the stored events beside the service (online learning: src/online/serve.ts). */
  learner?: LearnerFactory;
}

export interface RunningServer {
  app: FastifyInstance;
  registry: ModelRegistry;
  store: FeedbackStore;
  metrics: ServeMetrics;
  /** The learner, when one was given. */
  learner: Learner | undefined;
  /** "http://host:port". */
  url: string;
  close(): Promise<void>;
}

/** Catalogues from this size are served by the approximate index under "auto": an exact scan passes 1 ms. */
export const IVF_FROM = 500_000;

function indexFactory(kind: "exact" | "ivf" | "auto"): IndexFactory {
  return (vectors, dim, precision) =>
    kind === "ivf" || (kind === "auto" && vectors.length / dim >= IVF_FROM)
      ? new IvfIndex(vectors, dim, { precision })
      : new ExactIndex(vectors, dim, { precision });
}

/**
 * Open the store, load the model (replaying the log into it) and listen. With a learner, the model it
 * names is served first (online learning: the student an earlier run published) and the learner starts
 * beside the registry.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { redis } = options;
  const logger = options.logger || undefined;
  const store: FeedbackStore = redis ? await RedisStore.open(redis) : EventStore.open(options.stateDir);
  let shared: SharedServing | undefined;
  const metrics = new ServeMetrics();
  const factory = redis && options.learner ? leasedLearner(options.learner, redis, ttl(redis)) : options.learner;
  const planned = factory?.({ model: options.model, stateDir: options.stateDir });
  let registry: ModelRegistry;
  let learner: Learner | undefined;
  try {
    shared = redis ? await SharedServing.open(redis, logger) : undefined;
    const recorded = shared?.recorded ? [shared.recorded.dir] : [];
    let started = false;
    registry = new ModelRegistry([...recorded, ...(planned?.serve ?? []), options.model], {
      store,
      indexFactory: indexFactory(options.index ?? "auto"),
      modelsDir: resolve(options.modelsDir ?? dirname(resolve(options.model))),
      // Shared, the version serving is Redis' to record (redis-serving.ts).
      ...(redis ? {} : { record: join(options.stateDir, "serving.json") }),
      onServe: (model) => {
        metrics.serving(model.version, model.kind);
        if (started) shared?.announce(model);
      },
      onSkip: (dir, reason) => logger?.warn({ dir, reason }, "artefact skipped at start: the next one is tried"),
    });
    started = true;
    if (store instanceof RedisStore) {
      // What other servers write reaches this one's state in stream order, as its own writes do.
      store.listener = {
        events: (events) => {
          registry.apply(events);
          learner?.notify();
        },
        items: (items) => {
          const { model } = registry.current;
          for (const item of items) model.upsertItem(item.id, item.features);
        },
      };
      await shared!.follow(registry);
    }
    learner = await planned?.start({
      registry,
      store,
      metrics,
      ...(logger ? { logger } : {}),
      model: options.model,
      serving: registry.current.model.dir,
      stateDir: options.stateDir,
    });
  } catch (err) {
    await shared?.close();
    await store.close();
    throw err;
  }
  const app = await buildApp({
    registry,
    store,
    metrics,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    logger: options.logger ?? false,
    ...(learner ? { onEvents: () => learner.notify() } : {}),
    ...(learner?.status ? { online: () => learner.status!() } : {}),
  });
  const url = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8080 });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      await learner?.close();
      await shared?.close();
      registry.close();
      await store.close();
    })());
  return { app, registry, store, metrics, learner, url, close };
}

function ttl(redis: NonNullable<ServerOptions["redis"]>): { ttlMs?: number } {
  return redis.leaseTtlMs === undefined ? {} : { ttlMs: redis.leaseTtlMs };
}
