/**
 * Start and stop a recommendation server: the durable store, the model registry over it, the HTTP
 * application, and a clean shutdown (stop accepting, finish requests in flight, close the store).
 */
import { dirname, join, resolve } from "node:path";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { buildApp, type ServeLimits } from "./app.js";
import { ServeMetrics } from "./metrics.js";
import { ModelRegistry } from "./registry.js";
import type { OnlineStatus } from "./live.js";
import type { IndexFactory } from "./model.js";
import { ExactIndex, IvfIndex } from "../engine/retrieval.js";
import { EventStore } from "./store.js";

export interface ServerOptions {
  /** The model artefact to serve first (unless a restart resumes the version recorded in `stateDir`). */
  model: string;
  /** The only directory swaps from clients may name artefacts in (default: the one holding `model`). */
  modelsDir?: string;
  /** Where the event log and catalogue changes live (an LMDB environment; created if absent). */
  stateDir: string;
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

/**
 * A learner beside the service: it hears of every stored event, and may put new versions in service
 * through the registry. The server knows nothing else of it, so learning lives in the layer above.
 */
export interface Learner {
  /** New events were stored. */
  notify(): void;
  /** Why learning stopped, if it did. */
  readonly error: string | undefined;
  /** What it has been doing, for the dashboard. */
  status?(): OnlineStatus;
  close(): Promise<void>;
}

/** What a learner starts with: the server's parts, the artefact asked for and the one served first. */
export interface LearnerParts {
  registry: ModelRegistry;
  store: EventStore;
  metrics: ServeMetrics;
  logger?: FastifyBaseLogger;
  /** The `model` option, as given. */
  model: string;
  /** The artefact served first (the recorded version, one the learner named, or `model`), resolved. */
  serving: string;
  stateDir: string;
}

/**
 * Given the artefact asked for and the state directory, a learner names what to serve first, in order of
 * preference, before the artefact (what an earlier run of the learner left there), and starts once the
 * registry holds one.
 */
export type LearnerFactory = (request: { model: string; stateDir: string }) => {
  serve: readonly string[];
  start(parts: LearnerParts): Promise<Learner>;
};

export interface RunningServer {
  app: FastifyInstance;
  registry: ModelRegistry;
  store: EventStore;
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
  const store = EventStore.open(options.stateDir);
  const metrics = new ServeMetrics();
  const logger = options.logger || undefined;
  const planned = options.learner?.({ model: options.model, stateDir: options.stateDir });
  let registry: ModelRegistry;
  let learner: Learner | undefined;
  try {
    registry = new ModelRegistry([...(planned?.serve ?? []), options.model], {
      store,
      indexFactory: indexFactory(options.index ?? "auto"),
      modelsDir: resolve(options.modelsDir ?? dirname(resolve(options.model))),
      record: join(options.stateDir, "serving.json"),
      onServe: (model) => metrics.serving(model.version, model.kind),
      onSkip: (dir, reason) => logger?.warn({ dir, reason }, "artefact skipped at start: the next one is tried"),
    });
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
      registry.close();
      await store.close();
    })());
  return { app, registry, store, metrics, learner, url, close };
}
