// The model zoo: every teacher and student, built from a plain (JSON) spec and the data's context.
import { BPRMF, type BPRMFConfig } from "./bpr-mf.js";
import type { ModelContext } from "./context.js";
import { NeuMF, type NeuMFConfig } from "./neumf.js";
import type { Recommender } from "./recommender.js";

export * from "./recommender.js";
export * from "./context.js";
export { BPRMF, DotScorer, type BPRMFConfig } from "./bpr-mf.js";
export { NeuMF, type NeuMFConfig } from "./neumf.js";

export type ModelSpec = ({ kind: "bpr-mf" } & BPRMFConfig) | ({ kind: "neumf" } & NeuMFConfig);

/** Build a model from its spec. */
export function createModel(spec: ModelSpec, context: ModelContext): Recommender {
  switch (spec.kind) {
    case "bpr-mf":
      return new BPRMF(spec, context);
    case "neumf":
      return new NeuMF(spec, context);
    default:
      throw new Error(`unknown model kind "${(spec as { kind: string }).kind}" (known: bpr-mf, neumf)`);
  }
}
