// What every route plugin reads: the application's shared parts, given to each plugin when it is registered.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServeMetrics } from "./metrics.js";
import type { ModelRegistry } from "./registry.js";
import type { FeedbackStore } from "./store.js";

export interface ServeContext {
  registry: ModelRegistry;
  store: FeedbackStore;
  metrics: ServeMetrics;
  /** Checks the bearer token of write and admin requests (an onRequest hook: before the body is even read). */
  requireToken: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Called once a batch of events is stored and applied (online learning reads them from the store). */
  onEvents?: () => void;
}
