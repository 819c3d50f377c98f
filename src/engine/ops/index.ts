export * from "./arith.js";
export * from "./reduce.js";
export * from "./activations.js";
export * from "./embedding.js";
export * from "./bags.js";
export * from "./linalg.js";
