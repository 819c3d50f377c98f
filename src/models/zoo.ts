// The model zoo, registered once: every kind, how to build it from its plain (JSON) spec, and how to
// spec it from one width (what `--dim` means for that kind).
import { BPRMF, type BPRMFConfig } from "./bpr-mf.js";
import type { ModelContext } from "./context.js";
import { DeepRanker, type DeepRankerConfig } from "./deep-ranker.js";
import { MLPRanker, type MLPRankerConfig } from "./mlp-ranker.js";
import { NeuMF, type NeuMFConfig } from "./neumf.js";
import type { Recommender } from "./recommender.js";
import { SASRec, type SASRecConfig } from "./sasrec.js";
import { ScoreTable, type ScoreTableConfig } from "./score-table.js";
import { TwoTower, type TwoTowerConfig } from "./two-tower.js";

export type ModelSpec =
  | ({ kind: "bpr-mf" } & BPRMFConfig)
  | ({ kind: "neumf" } & NeuMFConfig)
  | ({ kind: "deep-ranker" } & DeepRankerConfig)
  | ({ kind: "two-tower" } & TwoTowerConfig)
  | ({ kind: "mlp-ranker" } & MLPRankerConfig)
  | ({ kind: "sasrec" } & SASRecConfig)
  | ({ kind: "score-table" } & ScoreTableConfig);

export type ModelKind = ModelSpec["kind"];

interface ZooEntry<S extends ModelSpec> {
  create(spec: S, context: ModelContext): Recommender;
  /** The spec of this kind at width `dim`. */
  ofWidth(dim: number, seed: number): S;
  /** Models of this kind are sequence models (models/sequence.ts), trained on next items. */
  sequential?: true;
}

const ZOO: { [K in ModelKind]: ZooEntry<Extract<ModelSpec, { kind: K }>> } = {
  "bpr-mf": {
    create: (spec, context) => new BPRMF(spec, context),
    ofWidth: (dim, seed) => ({ kind: "bpr-mf", dim, seed }),
  },
  neumf: {
    create: (spec, context) => new NeuMF(spec, context),
    // The GMF side at the width, an MLP of [2d, d] beside it.
    ofWidth: (dim, seed) => ({ kind: "neumf", gmfDim: dim, mlpSizes: [2 * dim, dim], seed }),
  },
  "two-tower": {
    create: (spec, context) => new TwoTower(spec, context),
    ofWidth: (dim, seed) => ({ kind: "two-tower", dim, seed }),
  },
  sasrec: {
    create: (spec, context) => new SASRec(spec, context),
    ofWidth: (dim, seed) => ({ kind: "sasrec", dim, seed }),
    sequential: true,
  },
  "deep-ranker": {
    create: (spec, context) => new DeepRanker(spec, context),
    ofWidth: (dim, seed) => ({ kind: "deep-ranker", embeddingDim: dim, seed }),
  },
  "mlp-ranker": {
    create: (spec, context) => new MLPRanker(spec, context),
    ofWidth: (dim) => ({ kind: "mlp-ranker", dim }) as Extract<ModelSpec, { kind: "mlp-ranker" }>,
  },
  // Scores computed elsewhere (an ONNX teacher): it has no width.
  "score-table": {
    create: (spec, context) => new ScoreTable(spec, context),
    ofWidth: () => ({ kind: "score-table" }),
  },
};

/** Every model kind of the zoo. */
export const MODEL_KINDS = Object.keys(ZOO) as ModelKind[];

export function isModelKind(kind: string): kind is ModelKind {
  return Object.hasOwn(ZOO, kind);
}

function entry(kind: string): ZooEntry<ModelSpec> {
  if (!isModelKind(kind)) throw new Error(`unknown model kind "${kind}" (known: ${MODEL_KINDS.join(", ")})`);
  return ZOO[kind] as ZooEntry<ModelSpec>;
}

/** Whether models of `kind` are sequence models (trained on next items, see models/sequence.ts). */
export function isSequenceKind(kind: string): boolean {
  return entry(kind).sequential === true;
}

/** Build a model from its spec. */
export function createModel(spec: ModelSpec, context: ModelContext): Recommender {
  return entry(spec.kind).create(spec, context);
}

/** The spec of model `kind` at width `dim` (BPR-MF and two-tower `dim`, NeuMF `gmfDim`, the deep ranker `embeddingDim`). */
export function specOfWidth(kind: string, dim: number, seed: number): ModelSpec {
  return entry(kind).ofWidth(dim, seed);
}
