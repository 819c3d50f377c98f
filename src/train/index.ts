// Training: the training loop over a TrainingPool, training programs and objectives, the hard-label losses,
// optimisers, shared training data, learning-rate schedules.
export * as schedule from "./schedule.js";
export * from "./training-data.js";
export * from "./optimizer.js";
export * from "./losses.js";
export {
  program as trainProgram,
  trainProgramUrl,
  trainingProgram,
  hardObjective,
  type HardConfig,
  type Objective,
  type ObjectiveBuilder,
  type ObjectiveParts,
  type TrainConfig,
  type Trainer,
} from "./program.js";
export * from "./trainer.js";
export {
  sequenceObjective,
  sequenceLoss,
  sequenceSamples,
  SEQUENCE_LOSSES,
  type SequenceLossKind,
  type SequenceLossOptions,
} from "./sequence.js";
