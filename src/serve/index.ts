// Real-time serving: the HTTP service, model versions, the durable event store and user state.
export {
  startServer,
  type Learner,
  type LearnerFactory,
  type LearnerParts,
  type RunningServer,
  type ServerOptions,
} from "./server.js";
export { buildApp, type AppOptions } from "./app.js";
export type { ServeContext } from "./context.js";
export { ModelRegistry, NoPreviousVersionError, type Deployment, type RegistryOptions } from "./registry.js";
export { ServingModel, UnsupportedError, type IndexFactory, type UserInput, type VectorIndex } from "./model.js";
export { Catalogue, UnknownAttributeError, type AttributeFilter } from "./catalogue.js";
export { RedisStore, BATCH_ID_TTL_MS, type SharedStoreListener } from "./redis-store.js";
export { SharedServing, type SharedVersion } from "./redis-serving.js";
export { leasedLearner, LeasedLearner, type LeaseOptions } from "./redis-lease.js";
export { parseRedisUrl, RedisUnreachableError, RedisUrlError, type RedisConfig } from "./redis.js";
export {
  EventStore,
  StoreInputError,
  MAX_ID_BYTES,
  type AppendOptions,
  type AppendResult,
  type FeedbackStore,
  type FeedbackEvent,
  type ItemRecord,
  type StoredEvent,
} from "./store.js";
export {
  UserState,
  Popularity,
  POPULARITY_DEFAULTS,
  type BaseHistory,
  type PopularityOptions,
  type ResolvedEvent,
  type UserIndex,
} from "./state.js";
export { ServeMetrics } from "./metrics.js";
export {
  TrafficRecorder,
  type OnlineDecisionPoint,
  type OnlineStatus,
  type OnlineWindow,
  type TrafficSample,
} from "./live.js";
export { registerDashboard, type DashboardOptions } from "./dashboard.js";
export { registerOpenApi } from "./openapi.js";
