// distillrec public API.
export * from "./engine/index.js";
export * from "./data/index.js";
export * from "./models/index.js";
export * from "./eval/index.js";
export * from "./distill/index.js";
export * from "./compress/index.js";
export * from "./serve/index.js";
