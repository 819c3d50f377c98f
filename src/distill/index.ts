// Distillation: soft labels, distillation losses, the distillation training program, multi-step chains.
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
} from "./program.js";
export * from "./multistep.js";
