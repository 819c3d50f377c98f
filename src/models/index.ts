// The model zoo: every teacher and student, built from a plain (JSON) spec and the data's context.
export * from "./recommender.js";
export * from "./context.js";
export {
  hasColdItems,
  isDotProduct,
  itemVectorTableOf,
  queryUserVectors,
  userVectorOf,
  VectorRecommender,
  VectorScorer,
  type ColdItemModel,
  type DotProductModel,
  type RetrievalPrecision,
} from "./dot-product.js";
export { BPRMF, DotScorer, type BPRMFConfig } from "./bpr-mf.js";
export { NeuMF, type NeuMFConfig } from "./neumf.js";
export { DeepRanker, type DeepRankerConfig } from "./deep-ranker.js";
export { FeatureEncoder } from "./features.js";
export { TwoTower, type TwoTowerConfig } from "./two-tower.js";
export { SASRec, type SASRecConfig } from "./sasrec.js";
export { isSequenceModel, sequenceWindows, type SequenceModel, type SequenceWindows } from "./sequence.js";
export { ScoreTable, type ScoreTableConfig } from "./score-table.js";
export { MLPRanker, type MLPRankerConfig } from "./mlp-ranker.js";

export { createModel, specOfWidth, isModelKind, MODEL_KINDS, type ModelKind, type ModelSpec } from "./zoo.js";
export {
  saveArtefact,
  loadArtefact,
  readManifest,
  ArtefactError,
  ARTEFACT_FORMAT,
  ARTEFACT_VERSION,
  type ArtefactManifest,
  type LoadedArtefact,
  type SaveArtefactOptions,
} from "./artefact.js";
