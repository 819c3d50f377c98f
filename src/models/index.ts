// The model zoo: every teacher and student, built from a plain (JSON) spec.
import { BPRMF, type BPRMFConfig } from "./bpr-mf.js";
import { NeuMF, type NeuMFConfig } from "./neumf.js";
import type { Recommender } from "./recommender.js";

export { Recommender, type PairwiseBatch } from "./recommender.js";
export { BPRMF, type BPRMFConfig } from "./bpr-mf.js";
export { NeuMF, type NeuMFConfig } from "./neumf.js";

export type ModelSpec = ({ kind: "bpr-mf" } & BPRMFConfig) | ({ kind: "neumf" } & NeuMFConfig);

/** Build a model from its spec. */
export function createModel(spec: ModelSpec): Recommender {
  switch (spec.kind) {
    case "bpr-mf":
      return new BPRMF(spec);
    case "neumf":
      return new NeuMF(spec);
    default:
      throw new Error(`unknown model kind "${(spec as { kind: string }).kind}" (known: bpr-mf, neumf)`);
  }
}
