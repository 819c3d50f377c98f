// What the server knows of a learner beside it (online learning lives in the layer above: src/online/serve.ts).
import type { FastifyBaseLogger } from "fastify";
import type { OnlineStatus } from "./live.js";
import type { ServeMetrics } from "./metrics.js";
import type { ModelRegistry } from "./registry.js";
import type { FeedbackStore } from "./store.js";

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
  store: FeedbackStore;
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
