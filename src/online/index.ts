// Online learning: a student that keeps learning from live events, re-distilled from a refreshed teacher
// and promoted only through a gate.
export { IdSlots, Sightings, type SlotAssignment } from "./slots.js";
export {
  OnlineModel,
  DEFAULT_ONLINE_OPTIMIZER,
  ONLINE_MODEL_DEFAULTS,
  type BaseModel,
  type LiveEvent,
  type OnlineModelOptions,
} from "./model.js";
export { growContext } from "./grow.js";
export {
  distilCandidate,
  recentUsers,
  refreshTeacher,
  teacherLists,
  type RedistillOptions,
  type TeacherLists,
} from "./redistill.js";
export {
  LOOP_DEFAULTS,
  OnlineLoop,
  type Decision,
  type DecisionKind,
  type DecisionRule,
  type DriftOptions,
  type EvidenceOptions,
  type GateOptions,
  type OnlineLoopHooks,
  type OnlineLoopOptions,
  type WatchOptions,
} from "./loop.js";
export { eventsOf, numberedStream, splitStream, timeOrder, type NumberedStream, type StreamSplit } from "./stream.js";
export { latestPublished, openOnline, publishedDirs, saveOnline, type OpenedOnline } from "./artefacts.js";
export { OnlineService, type OnlineServiceOptions } from "./service.js";
export { onlineLearning, type OnlineServeOptions } from "./serve.js";
export type { OnlineWorkerConfig } from "./worker.js";
