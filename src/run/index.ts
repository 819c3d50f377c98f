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
export {
  runPipeline,
  loadData,
  prepareData,
  type PipelineOptions,
  type PreparedData,
  type TestSet,
} from "./pipeline.js";
export { renderReport, writeReport, type ModelSummary, type RunSummary } from "./report.js";
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
