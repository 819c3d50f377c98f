/**
 * Start and stop a recommendation server: the durable store, the model registry over it, the HTTP
 * application, and a clean shutdown (stop accepting, finish requests in flight, close the store).
 */
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { ServeMetrics } from "./metrics.js";
import { ModelRegistry } from "./registry.js";
import { ExactIndex } from "./retrieval.js";
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

/** Open the store, load the model (replaying the log into it) and listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = EventStore.open(options.stateDir);
  const metrics = new ServeMetrics();
  let registry: ModelRegistry;
  try {
    registry = new ModelRegistry(options.model, {
      store,
      indexFactory: (vectors, dim, precision) => new ExactIndex(vectors, dim, { precision }),
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
