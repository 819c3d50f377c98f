// The pipeline: data, teachers, soft labels, students, compression, evaluation, report.
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
export { runPipeline } from "./pipeline.js";
export type { PipelineLog, PipelineOptions, ProgressEvent } from "./log.js";
export { loadData, prepareData, type PreparedData, type TestSet } from "./data.js";
export { evaluateModel, fidelityMetrics, popularityReference, type EvaluationSettings } from "./evaluation.js";
export { pipelinePaths, type RunPaths } from "./record.js";
export { renderReport, writeReport } from "./report.js";
export type { CompressionRow, ModelSummary, ReferenceSummary, RunSummary } from "./summary.js";
export {
  compress,
  describeStep,
  parseSteps,
  project,
  type CompressionStep,
  type CompressOptions,
  type CompressionResult,
  type OnExceed,
  type PlannedStorage,
  type PruneStructure,
  type Quality,
  type StepReport,
} from "./compression.js";
export {
  compressArtefact,
  COMPRESS_EVALUATION,
  type CompressArtefactOptions,
  type CompressArtefactResult,
  type ModelRow,
} from "./compress-artefact.js";
