// Training: the loop over a TrainingPool, the plain program, hard-label losses, optimisers, shared training data, schedules.
export * as schedule from "./schedule.js";
export * from "./training-data.js";
export * from "./trainer.js";
export * from "./losses.js";
export * from "./optimizers.js";
export {
  program as trainProgram,
  trainProgramUrl,
  batchGatherer,
  hardObjective,
  type TrainConfig,
  type Trainer,
  type TrainingBatch,
} from "./program.js";
