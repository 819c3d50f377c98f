// The data layer: readers, id maps, shaping, splits, samplers, histories, task labels and the synthetic generator.
export * from "./readers.js";
export { mergeReports, type BadRowPolicy } from "./errors.js";
export { IdMap } from "./idmap.js";
export { DataRng } from "./rng.js";
export * from "./types.js";
export * from "./shaping.js";
export * from "./splits.js";
export * from "./sampling.js";
export * from "./history.js";
export * from "./labels.js";
export * from "./synthetic.js";
