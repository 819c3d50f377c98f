// Training: the training loop over a TrainingPool, shared training data, learning-rate schedules.
export * as schedule from "./schedule.js";
export * from "./training-data.js";
export * from "./trainer.js";
