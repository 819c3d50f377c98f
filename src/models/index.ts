// The model zoo: every teacher and student, built from a plain (JSON) spec and the data's context.
import { BPRMF, type BPRMFConfig } from "./bpr-mf.js";
import type { ModelContext } from "./context.js";
import { DeepRanker, type DeepRankerConfig } from "./deep-ranker.js";
import { NeuMF, type NeuMFConfig } from "./neumf.js";
import type { Recommender } from "./recommender.js";
import { TwoTower, type TwoTowerConfig } from "./two-tower.js";
import { MLPRanker, type MLPRankerConfig } from "./mlp-ranker.js";

export * from "./recommender.js";
export * from "./context.js";
export { BPRMF, DotScorer, type BPRMFConfig } from "./bpr-mf.js";
export { NeuMF, type NeuMFConfig } from "./neumf.js";
export { DeepRanker, type DeepRankerConfig } from "./deep-ranker.js";
export { FeatureEncoder } from "./features.js";
export { TwoTower, TwoTowerScorer, type TwoTowerConfig } from "./two-tower.js";
export { MLPRanker, type MLPRankerConfig } from "./mlp-ranker.js";

export type ModelSpec =
  | ({ kind: "bpr-mf" } & BPRMFConfig)
  | ({ kind: "neumf" } & NeuMFConfig)
  | ({ kind: "deep-ranker" } & DeepRankerConfig)
  | ({ kind: "two-tower" } & TwoTowerConfig)
  | ({ kind: "mlp-ranker" } & MLPRankerConfig);

/** Build a model from its spec. */
export function createModel(spec: ModelSpec, context: ModelContext): Recommender {
  switch (spec.kind) {
    case "bpr-mf":
      return new BPRMF(spec, context);
    case "neumf":
      return new NeuMF(spec, context);
    case "deep-ranker":
      return new DeepRanker(spec, context);
    case "two-tower":
      return new TwoTower(spec, context);
    case "mlp-ranker":
      return new MLPRanker(spec, context);
    default:
      throw new Error(
        `unknown model kind "${(spec as { kind: string }).kind}" (known: bpr-mf, neumf, deep-ranker, two-tower, mlp-ranker)`,
      );
  }
}
export {
  saveArtefact,
  loadArtefact,
  readManifest,
  ArtefactError,
  ARTEFACT_FORMAT,
  ARTEFACT_VERSION,
  type ArtefactManifest,
  type LoadedArtefact,
  type SaveArtefactOptions,
} from "./artefact.js";
