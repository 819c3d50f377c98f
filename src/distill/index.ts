// Distillation on top of the training loop: soft labels, distillation losses, the distillation program, multi-step chains.
export * from "./soft-labels.js";
export * from "./losses.js";
export {
  program as distillProgram,
  distillProgramUrl,
  hasSoftTerms,
  needsSoftLabels,
  needsTeacher,
  type DistillConfig,
  type DistillTrainer,
} from "./program.js";
export { distill, type DistillOptions } from "./distill.js";
export * from "./multistep.js";
