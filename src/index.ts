// distillrec public API.
export * from "./engine/index.js";
export * from "./models/index.js";
export { program as pairwiseProgram, pairwiseProgramUrl, type PairwiseConfig } from "./models/pairwise-program.js";
