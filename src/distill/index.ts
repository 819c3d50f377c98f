// Distillation: soft labels, losses, the training program and trainer, multi-step chains and the pipeline.
export * from "./soft-labels.js";
export * from "./losses.js";
export {
  program as distillProgram,
  distillProgramUrl,
  createOptimizer,
  type DistillConfig,
  type DistillTrainer,
  type OptimizerKind,
  type OptimizerSettings,
} from "./distill-program.js";
export * from "./training-data.js";
export * from "./trainer.js";
export * from "./multistep.js";
export {
  ConfigError,
  defaultPipelineConfig,
  loadPipelineConfig,
  parseConfigText,
  validatePipelineConfig,
  METHOD_PRESETS,
  type DataConfig,
  type MethodConfig,
  type MethodWeights,
  type ModelConfig,
  type PipelineConfig,
  type TrainSettings,
} from "./config.js";
export {
  runPipeline,
  loadData,
  prepareData,
  type PipelineOptions,
  type PreparedData,
  type TestSet,
} from "./pipeline.js";
export { renderReport, writeReport, type ModelSummary, type RunSummary } from "./report.js";
