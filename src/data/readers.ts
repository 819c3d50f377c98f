// Readers for interaction logs, side features and RecBole dataset directories.
export { DataError, type ReadReport } from "./errors.js";
export {
  readFeatures,
  UNKNOWN_TOKEN,
  type FeatureKind,
  type FeatureRead,
  type ReadFeaturesOptions,
} from "./features.js";
export { readCandidates } from "./readers/candidates.js";
export { readDataset, type ReadDatasetOptions } from "./readers/dataset.js";
export {
  detectFormat,
  readInteractions,
  readInteractionsWithReport,
  type ColumnMapping,
  type ColumnRef,
  type InteractionFormat,
  type LenientRead,
  type ReadInteractionsOptions,
} from "./readers/interactions.js";
