/**
 * The recommendation service as a Fastify application: JSON over HTTP, versioned under /v1, every body and
 * query validated by JSON schema, each group of routes a plugin (./routes). Writes and administration
 * need the bearer token; malformed input gets a 4xx with the reason and never takes the process down.
 * Slow or idle clients are timed out, connections capped, load shed and (optionally) requests rate-limited.
 * The routes' schemas are published as OpenAPI (openapi.ts), and a dashboard shows the service (dashboard.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import rateLimit from "@fastify/rate-limit";
import underPressure from "@fastify/under-pressure";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { ArtefactError } from "../models/artefact.js";
import { FeatureValueError } from "../models/features.js";
import { UnknownAttributeError } from "./catalogue.js";
import { registerDashboard } from "./dashboard.js";
import { errorBody, HttpError, withoutPaths } from "./errors.js";
import { TrafficRecorder, type OnlineStatus } from "./live.js";
import type { ServeMetrics } from "./metrics.js";
import { UnsupportedError } from "./model.js";
import { registerOpenApi } from "./openapi.js";
import { NoPreviousVersionError, type ModelRegistry } from "./registry.js";
import { adminRoutes } from "./routes/admin.js";
import { eventRoutes } from "./routes/events.js";
import { healthRoutes } from "./routes/health.js";
import { recommendRoutes } from "./routes/recommend.js";
import type { FeedbackStore } from "./store.js";
import type { ServeContext } from "./context.js";
import { MAX_PARAM_LENGTH, validatorCompiler } from "./schemas.js";

export interface AppOptions {
  registry: ModelRegistry;
  store: FeedbackStore;
  metrics: ServeMetrics;
  /** The bearer token writes and administration need; without one they are refused (403). */
  token?: string;
  /** Largest request body, bytes (default 4 MiB: about 20 000 events). */
  bodyLimit?: number;
  logger?: FastifyBaseLogger | false;
  /** Called once a batch of events is stored and applied. */
  onEvents?: () => void;
  /** Timeouts, the connection cap, load shedding and rate limits (see ServeLimits for the defaults). */
  limits?: ServeLimits;
  /** What online learning reports, for the dashboard (a learner's status). */
  online?: () => OnlineStatus;
}

/** What one client, or many, may hold of the server. Times in ms. */
export interface ServeLimits {
  /** Time to receive a whole request, headers and body (default 30 000): a trickled body is cut off with 408. */
  requestTimeout?: number;
  /** Time to receive the headers (default 10 000, at most requestTimeout). */
  headersTimeout?: number;
  /** How long an idle keep-alive connection stays open between requests (default 5 000). */
  keepAliveTimeout?: number;
  /** A socket with no traffic either way for this long is closed, e.g. a client not reading its answer (default 60 000). */
  socketTimeout?: number;
  /**
   * Connections open at once (default 10 000, or the open-file limit less 256 if lower); beyond it new
   * ones are closed at once, so the process never runs out of file handles.
   */
  maxConnections?: number;
  /** Load shedding: past a threshold every route but the health ones answers 503 with Retry-After (false: off). */
  shedding?: SheddingLimits | false;
  /** Requests per window and client (the token holder is one client, anyone else by address); off unless given. */
  rateLimit?: RateLimits;
}

export interface SheddingLimits {
  /** Mean event-loop delay, ms (default 1 000). */
  maxEventLoopDelay?: number;
  /** Event-loop utilisation, 0–1 (default: not checked). */
  maxEventLoopUtilization?: number;
  /** V8 heap in use, bytes (default: not checked). */
  maxHeapUsedBytes?: number;
  /** Resident set size, bytes (default: not checked). */
  maxRssBytes?: number;
}

export interface RateLimits {
  /** Requests a client may make per window. */
  max: number;
  /** The window, ms (default 60 000). */
  timeWindow?: number;
}

/** The default connection cap: a socket is a file handle, and the store, the model and the logs need some too. */
function defaultMaxConnections(): number {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    if (soft) return Math.max(64, Math.min(10_000, Number(soft) - 256));
  } catch {
    // Not Linux: no limit to read.
  }
  return 10_000;
}

export const DEFAULT_LIMITS = {
  requestTimeout: 30_000,
  headersTimeout: 10_000,
  keepAliveTimeout: 5_000,
  socketTimeout: 60_000,
  maxConnections: defaultMaxConnections(),
  shedding: { maxEventLoopDelay: 1_000 },
} as const;

/** How often Node checks the request and headers timeouts (its default, 30 s, would let them overrun by as much). */
const TIMEOUT_CHECK_MS = 1_000;
/** Seconds a shed client is told to wait. */
const RETRY_AFTER_S = 5;

/** Build the application (not listening yet). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const limits = { ...DEFAULT_LIMITS, ...defined(options.limits ?? {}) };
  const requestTimeout = positive("requestTimeout", limits.requestTimeout);
  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    loggerInstance: options.logger || undefined,
    // One log line per request would cost more than answering it; failures and swaps are logged.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout,
    keepAliveTimeout: positive("keepAliveTimeout", limits.keepAliveTimeout),
    connectionTimeout: positive("socketTimeout", limits.socketTimeout),
    http: {
      headersTimeout: Math.min(positive("headersTimeout", limits.headersTimeout), requestTimeout),
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, requestTimeout),
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });
  app.server.maxConnections = positive("maxConnections", limits.maxConnections);
  app.setValidatorCompiler(validatorCompiler);
  const { metrics } = options;
  const ctx: ServeContext = {
    registry: options.registry,
    store: options.store,
    metrics,
    requireToken: tokenCheck(options.token),
    ...(options.onEvents ? { onEvents: options.onEvents } : {}),
  };

  const traffic = new TrafficRecorder();
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requestSeconds.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    // The dashboard's own polling and files are not the traffic it shows.
    if (!/^\/(dashboard|docs|openapi)/.test(route)) traffic.request(reply.elapsedTime);
  });
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    const status = statusOf(error);
    // An HttpError is a refusal we chose (503 when shedding, say), not a failure.
    if (status >= 500 && !(error instanceof HttpError)) request.log.error({ err: error }, "request failed");
    // Artefact refusals and internal failures are where server paths turn up.
    const message = status === 422 || status >= 500 ? withoutPaths(error.message) : error.message;
    return reply.status(status).send(errorBody(status, message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(404, `no route ${request.method} ${request.url}`)),
  );

  // Before every route: the document collects their schemas as they are registered.
  await registerOpenApi(app);
  // Both plugins hook every route registered after them; the health routes opt out (routes/health.ts).
  if (limits.shedding !== false) await app.register(underPressure, sheddingOptions(limits.shedding));
  if (limits.rateLimit) await app.register(rateLimit, rateLimitOptions(limits.rateLimit, options.token));

  // A shared store (Redis): each answer reflects every write acknowledged by any server before the request
  // (or is a 503 with the reason while Redis is away). Liveness and the scrape endpoint do not wait on it,
  // nor do writes: the store syncs as it acknowledges them.
  const { store } = options;
  const unsynced = new Set(["/healthz", "/metrics", "/v1/events", "/v1/items"]);
  if (store.sync) {
    app.addHook("preHandler", async (request) => {
      if (!unsynced.has(request.routeOptions.url ?? "")) await store.sync!();
    });
  }

  await app.register(healthRoutes, { ctx });
  await app.register(recommendRoutes, { ctx, prefix: "/v1" });
  await app.register(eventRoutes, { ctx, prefix: "/v1" });
  await app.register(adminRoutes, { ctx, prefix: "/v1" });
  await registerDashboard(app, {
    ctx,
    traffic,
    ...(options.token ? { guard: ctx.requireToken } : {}),
    ...(options.online ? { online: options.online } : {}),
  });
  return app;
}

/** The options given a value: an option passed as undefined (a flag not given, say) keeps its default. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new RangeError(`limits.${name} must be an integer > 0 (got ${value})`);
  return value;
}

function sheddingOptions(shedding: SheddingLimits) {
  const thresholds = { ...DEFAULT_LIMITS.shedding, ...defined(shedding) };
  return {
    ...thresholds,
    // The reason in our error shape, with the measure that tripped it.
    pressureHandler: async (_request: FastifyRequest, reply: FastifyReply, type: string, value?: number) => {
      // Infinity is under-pressure's "no sample in the last interval": the loop was blocked through all of it
      // (a large swap, a busy machine). That is over once a request runs, so it is no reason to refuse one.
      if (type === "eventLoopDelay" && value === Infinity) return;
      reply.header("retry-after", RETRY_AFTER_S);
      throw new HttpError(
        503,
        `the server is overloaded (${type}${value === undefined ? "" : ` ${round(value)}`}); retry later`,
      );
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function rateLimitOptions(limits: RateLimits, token: string | undefined) {
  positive("rateLimit.max", limits.max);
  const holds = tokenHolder(token);
  return {
    max: limits.max,
    timeWindow: positive("rateLimit.timeWindow", limits.timeWindow ?? 60_000),
    // Only the real token earns its own budget: made-up tokens would otherwise each get a fresh one.
    keyGenerator: (request: FastifyRequest) => (holds(request) ? "token" : `ip:${request.ip}`),
  };
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
 * Whether a request carries `Authorization: Bearer <token>`. Both sides are hashed first, so the
 * comparison is constant-time whatever the lengths.
 */
function tokenHolder(token: string | undefined): (request: FastifyRequest) => boolean {
  const expected = token ? createHash("sha256").update(token).digest() : undefined;
  return (request) => {
    if (!expected) return false;
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? "");
    return match !== null && timingSafeEqual(createHash("sha256").update(match[1]!).digest(), expected);
  };
}

/** A hook that lets a request through only with the bearer token. */
function tokenCheck(token: string | undefined): ServeContext["requireToken"] {
  const holds = tokenHolder(token);
  return async (request, reply) => {
    if (!token) throw new HttpError(403, "writes are disabled: the server has no token");
    if (!holds(request)) {
      reply.header("www-authenticate", "Bearer");
      throw new HttpError(401, "a valid bearer token is required");
    }
  };
}
