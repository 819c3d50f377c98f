// Evaluation: metrics (accuracy and beyond), protocols (sampled and full ranking, classification, fidelity),
// model profiles and the popularity reference ranker.
export * from "./metrics.js";
export * from "./protocol.js";
export * from "./profile.js";
export * from "./prequential.js";
export * from "./beyond-accuracy.js";
export * from "./popularity.js";
