/**
 * Start and stop a recommendation server: the durable store, the model registry over it, the HTTP
 * application, and a clean shutdown (stop accepting, finish requests in flight, close the store).
 */
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { ServeMetrics } from "./metrics.js";
import { ModelRegistry } from "./registry.js";
import type { IndexFactory } from "./model.js";
import { ExactIndex, IvfIndex } from "./retrieval.js";
import { EventStore } from "./store.js";

export interface ServerOptions {
  /** The model artefact to serve first. */
  model: string;
  /** Where the event log and catalogue changes live (an LMDB environment; created if absent). */
  stateDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  /** "exact" scans every item; "ivf" probes inverted lists; "auto" (default) uses IVF from IVF_FROM items. */
  index?: "exact" | "ivf" | "auto";
  bodyLimit?: number;
  logger?: FastifyBaseLogger | false;
}

export interface RunningServer {
  app: FastifyInstance;
  registry: ModelRegistry;
  store: EventStore;
  metrics: ServeMetrics;
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

/** Open the store, load the model (replaying the log into it) and listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = EventStore.open(options.stateDir);
  const metrics = new ServeMetrics();
  let registry: ModelRegistry;
  try {
    registry = new ModelRegistry(options.model, {
      store,
      indexFactory: indexFactory(options.index ?? "auto"),
      onServe: (model) => metrics.serving(model.version, model.kind),
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
    logger: options.logger ?? false,
  });
  const url = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8080 });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      registry.close();
      await store.close();
    })());
  return { app, registry, store, metrics, url, close };
}
