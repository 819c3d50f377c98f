// Evaluation: metrics, protocols (sampled and full ranking, classification, fidelity) and model profiles.
export * from "./metrics.js";
export * from "./protocol.js";
export * from "./profile.js";
export * from "./prequential.js";
