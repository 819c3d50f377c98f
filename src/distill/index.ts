// Distillation on top of src/train: soft labels and their cache, distillation losses, the distillation
// objective and program, training a student (distill), multi-step chains.
export * from "./soft-labels.js";
export * from "./soft-label-cache.js";
export * from "./soft-losses.js";
export * from "./hint.js";
export * from "./experts.js";
export * from "./topology.js";
export * from "./teacher-vectors.js";
export * from "./losses.js";
export * from "./unkd.js";
export {
  program as distillProgram,
  distillProgramUrl,
  hasSoftTerms,
  listAnchors,
  anchoredListRows,
  needsSoftLabels,
  needsTeacher,
  isPureHard,
  shareParameters,
  shareSoftLabels,
  softLabelsFrom,
  type DistillConfig,
  type DistillTrainer,
} from "./program.js";
export * from "./distill.js";
export * from "./multistep.js";
