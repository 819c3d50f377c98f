/**
 * Start and stop a recommendation server: the durable store, the model registry over it, the HTTP
 * application, and a clean shutdown (stop accepting, finish requests in flight, close the store).
 */
import { join, resolve } from "node:path";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { findTeacherBeside, readManifest } from "../models/artefact.js";
import type { OnlineLoopOptions } from "../online/loop.js";
import type { OnlineModelOptions } from "../online/model.js";
import { latestPublished } from "../online/artefacts.js";
import { OnlineService } from "../online/service.js";
import { buildApp } from "./app.js";
import { ServeMetrics } from "./metrics.js";
import { ModelRegistry } from "./registry.js";
import type { IndexFactory } from "./model.js";
import { ExactIndex, IvfIndex } from "../engine/retrieval.js";
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
  /** Keep the served student learning from the events (docs/ONLINE.md); absent: the model stays as loaded. */
  online?: OnlineServeOptions;
}

/** Online learning inside the server. */
export interface OnlineServeOptions {
  /** The teacher artefact (false: none, no re-distillation; default the one beside the model, if any). */
  teacher?: string | false;
  /** Publish the incrementally updated student every this many events (default 10 000; 0: only on promotion). */
  publishEvery?: number;
  /** Events per learning step (default 256). */
  batch?: number;
  model?: OnlineModelOptions;
  loop?: OnlineLoopOptions;
}

export interface RunningServer {
  app: FastifyInstance;
  registry: ModelRegistry;
  store: EventStore;
  metrics: ServeMetrics;
  /** The online learner, when on. */
  online: OnlineService | undefined;
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
 * Open the store, load the model (replaying the log into it) and listen. With online learning, a student
 * published by an earlier run in the state directory is served instead of `model`, and learning resumes
 * after the last event it learned.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const store = EventStore.open(options.stateDir);
  const metrics = new ServeMetrics();
  const logger = options.logger || undefined;
  const onlineDir = join(options.stateDir, "online");
  const resumed = options.online ? latestPublished(onlineDir) : undefined;
  const firstModel = resumed?.dir ?? options.model;
  let registry: ModelRegistry;
  let online: OnlineService | undefined;
  try {
    registry = new ModelRegistry(firstModel, {
      store,
      indexFactory: indexFactory(options.index ?? "auto"),
      onServe: (model) => metrics.serving(model.version, model.kind),
    });
    if (options.online) {
      const o = options.online;
      const teacher = o.teacher ?? findTeacherBeside(options.model, readManifest(options.model)) ?? false;
      online = await OnlineService.start({
        registry,
        store,
        metrics,
        ...(logger ? { logger } : {}),
        ...(resumed ? { fromSeq: resumed.seq + 1 } : {}),
        config: {
          studentDir: resolve(firstModel),
          teacherDir: teacher === false ? false : resolve(teacher),
          outDir: onlineDir,
          publishEvery: o.publishEvery ?? 10_000,
          flushMs: 1000,
          keep: 3,
          model: o.model ?? {},
          loop: { ...(o.batch === undefined ? {} : { batch: o.batch }), ...o.loop },
        },
      });
    }
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
    ...(online ? { onEvents: () => online.notify() } : {}),
  });
  const url = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8080 });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      await online?.close();
      registry.close();
      await store.close();
    })());
  return { app, registry, store, metrics, online, url, close };
}
