/**
 * The recommendation service as a Fastify application: JSON over HTTP, versioned under /v1, every body and
 * query validated by JSON schema, each group of routes a plugin (./routes). Writes and administration
 * need the bearer token; malformed input gets a 4xx with the reason and never takes the process down.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { ArtefactError } from "../models/artefact.js";
import { FeatureValueError } from "../models/features.js";
import { UnknownAttributeError } from "./catalogue.js";
import { errorBody, HttpError } from "./errors.js";
import type { ServeMetrics } from "./metrics.js";
import { UnsupportedError } from "./model.js";
import { NoPreviousVersionError, type ModelRegistry } from "./registry.js";
import { adminRoutes } from "./routes/admin.js";
import { eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { recommendRoutes } from "./routes/recommend.js";
import type { EventStore } from "./store.js";
import type { ServeContext } from "./context.js";

export interface AppOptions {
  registry: ModelRegistry;
  store: EventStore;
  metrics: ServeMetrics;
  /** The bearer token writes and administration need; without one they are refused (403). */
  token?: string;
  /** Largest request body, bytes (default 4 MiB: about 20 000 events). */
  bodyLimit?: number;
  logger?: FastifyBaseLogger | false;
  /** Called once a batch of events is stored and applied. */
  onEvents?: () => void;
}

/** Build the application (not listening yet). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    loggerInstance: options.logger || undefined,
    // One log line per request would cost more than answering it; failures and swaps are logged.
    logController: new LogController({ disableRequestLogging: true }),
    // Validation reports every problem, not just the first.
    ajv: { customOptions: { allErrors: true, coerceTypes: "array", removeAdditional: false, allowUnionTypes: true } },
  });
  const { metrics } = options;
  const ctx: ServeContext = {
    registry: options.registry,
    store: options.store,
    metrics,
    requireToken: tokenCheck(options.token),
    ...(options.onEvents ? { onEvents: options.onEvents } : {}),
  };

  app.addHook("onResponse", async (request, reply) => {
    metrics.requestSeconds.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    const status = statusOf(error);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    return reply.status(status).send(errorBody(status, error.message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(404, `no route ${request.method} ${request.url}`)),
  );

  await app.register(healthRoutes, { ctx });
  await app.register(recommendRoutes, { ctx, prefix: "/v1" });
  await app.register(eventRoutes, { ctx, prefix: "/v1" });
  await app.register(adminRoutes, { ctx, prefix: "/v1" });
  return app;
}

/** The HTTP status of an error: Fastify's own (validation 400, body too large 413, …) or ours. */
function statusOf(error: Error & { statusCode?: number; validation?: unknown }): number {
  if (error.validation) return 400;
  if (error instanceof UnknownAttributeError || error instanceof FeatureValueError) return 400;
  if (error instanceof UnsupportedError) return 409;
  if (error instanceof NoPreviousVersionError) return 409;
  if (error instanceof ArtefactError) return 422;
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 600)
    return error.statusCode;
  return 500;
}

/**
 * A hook that lets a request through only with `Authorization: Bearer <token>`. Both sides are
 * hashed first, so the comparison is constant-time whatever the lengths.
 */
function tokenCheck(token: string | undefined): ServeContext["requireToken"] {
  const expected = token ? createHash("sha256").update(token).digest() : undefined;
  return async (request, reply) => {
    if (!expected) throw new HttpError(403, "writes are disabled: the server has no token");
    const header = request.headers.authorization ?? "";
    const match = /^Bearer (.+)$/.exec(header);
    const given = createHash("sha256")
      .update(match?.[1] ?? "")
      .digest();
    if (!match || !timingSafeEqual(given, expected)) {
      reply.header("www-authenticate", "Bearer");
      throw new HttpError(401, "a valid bearer token is required");
    }
  };
}
