// distillrec public API.
export * from "./engine/index.js";
