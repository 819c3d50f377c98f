/**
 * The pipeline config (`distillrec run --config`): where the data comes from, how it is split and
 * evaluated, which teachers to train, the student, the distillation methods to compare and where the
 * output goes. A JSON or YAML file, validated with a JSON schema (ajv) that also fills in the defaults;
 * every problem is reported at once, each as "<file>: /json/pointer message".
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { parse as parseYaml } from "yaml";
import { parseSteps, type OnExceed } from "./compression.js";
import type { SyntheticConfig } from "../data/synthetic.js";
import type { ScheduleSpec } from "../train/schedule.js";
import type { LossReduction } from "../train/program.js";
import type { NegativeSampler, SequenceLossKind } from "../train/sequence.js";
import type { TableUpdates } from "../engine/optim.js";
import type { ModelSpec } from "../models/zoo.js";
import { DATA_FORMATS, OPTIMIZERS, pipelineConfigSchema } from "./config-schema.js";
import type { DistillWeights } from "../distill/losses.js";
import type { ConsensusKind } from "../distill/soft-labels.js";
import type { OnnxTeacherSpec } from "../interop/onnx-teacher.js";

/** Where the interactions come from. */
export type DataConfig =
  | { kind: "synthetic"; synthetic?: Partial<SyntheticConfig> }
  | { kind: "recbole"; path: string }
  | {
      kind: "file";
      path: string;
      format?: (typeof DATA_FORMATS)[number];
      columns?: {
        user?: string | number;
        item?: string | number;
        value?: string | number;
        timestamp?: string | number;
      };
    };

/** How the interactions are split: leave-one-out, or given as files (paths resolved like the data's). */
export type SplitConfig =
  { kind: "leave-one-out" } | { kind: "files"; valid: string; test: string; candidates?: string };

/** Optimisation settings of one model. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  /** torch.optim's weight_decay, against the loss as `lossReduction` reduces it (see OptimizerSettings). */
  weightDecay?: number;
  /** Embedding tables: "lazy" (default; the batch's rows) or "dense" (every row every step, as torch Adam). */
  tableUpdates?: TableUpdates;
  /** "mean" (default) or "sum": the batch loss the optimiser follows; "sum" reads settings from PyTorch code. */
  lossReduction?: LossReduction;
  /** The BPR papers' L2 on the batch's user and item vectors (dot-product models), default 0. */
  l2?: number;
  optimizer: (typeof OPTIMIZERS)[number];
  /** Epochs without validation improvement before stopping. */
  patience: number;
  /** Validate every this many epochs (and after the last); default 1. */
  validateEvery?: number;
  /** How `lr` changes, stepped once per epoch (stepSize and warmupSteps count epochs); default constant. */
  schedule?: ScheduleSpec;
  /** Adam's β1, β2 (default 0.9, 0.999). */
  betas?: [number, number];
  /** Sequence models' next-item loss: the paper's per-position "bce" (default) or sampled "softmax". */
  sequenceLoss?: SequenceLossKind;
  /** Shared negatives per batch of the sampled softmax (default 100). */
  sequenceNegatives?: number;
  /** Where the sampled softmax draws them: by training popularity, logQ-corrected (default), or uniformly. */
  sequenceSampler?: NegativeSampler;
}

/** Loss weights of a distillation method: distillationLoss's weights, per-head task weights aside. */
export type MethodWeights = Omit<DistillWeights, "taskWeights">;

/** One distillation method to compare (the student is trained once per method). */
export interface MethodConfig {
  name: string;
  weights: MethodWeights;
}

export interface ModelConfig {
  name: string;
  model: ModelSpec;
  train: TrainSettings;
  /** A teacher scored by an ONNX model instead of trained (its `model` is then a score table). */
  onnx?: OnnxTeacherSpec;
}

/** The whole pipeline, defaults applied. */
export interface PipelineConfig {
  name: string;
  seed: number;
  data: DataConfig;
  split: SplitConfig;
  evaluation: {
    /** Sampled negatives per test user (test metrics). */
    negatives: number;
    /** Sampled negatives per validation user (early stopping; fewer, for speed). */
    validationNegatives: number;
    ks: number[];
    /** Also rank the full catalogue on test. */
    fullRanking: boolean;
  };
  teachers: ModelConfig[];
  student: { model: ModelSpec; train: TrainSettings };
  distillation: {
    methods: MethodConfig[];
    softLabels: {
      negatives: number;
      topK: number;
      positivesPerUser: number;
      cache: boolean;
      /**
       * Ensemble distillation: the lists and logits come from the consensus of several teachers ("rank":
       * rank-averaged, "score": z-scores averaged; see consensusScores) instead of the best teacher alone.
       */
      ensemble?: { consensus: ConsensusKind; teachers?: string[] };
    };
    /** A mid-sized model between teacher and student (teacher → assistant → student). */
    assistant?: { model: ModelSpec; train?: TrainSettings };
  };
  /** Compress the best student (by validation NDCG@10) at the end of the run. */
  compression?: CompressionConfig;
  output: { dir: string };
  /** Training threads (default: every core). */
  threads?: number;
}

/** The run's compression stage (see compression.ts). */
export interface CompressionConfig {
  /** Steps in order, as `distillrec compress --steps` takes them: "fp16", "int8", "prune:0.5", "lowrank:0.9". */
  steps: string[];
  /** Largest relative drop of validation NDCG@10 a step may leave (default 0.02). */
  budget: number;
  onExceed: OnExceed;
  /** Distillation epochs after each pruning and low-rank step (default 2). */
  fineTuneEpochs: number;
  /** Fine-tuning learning rate (default 0.001). */
  lr: number;
}

/** A config that does not validate; `problems` holds every "<source>: <pointer> <message>" line. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid pipeline config\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

// ---- schema -------------------------------------------------------------------------------------

let validate: ReturnType<Ajv["compile"]> | undefined;

/** Ajv's error as "/pointer message", with the offending key or allowed values when ajv knows them. */
export function describeAjvError(error: ErrorObject): string {
  const path = error.instancePath === "" ? "(root)" : error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `${path} has unknown property "${String(params.additionalProperty)}"`;
    case "enum":
      return `${path} ${error.message} (${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")})`;
    case "const":
      return `${path} must be ${JSON.stringify(params.allowedValue)}`;
    case "not":
      return `${path} has settings that do not apply to this kind`;
    case "false schema":
      return `${path} does not apply to this kind`;
    default:
      return `${path} ${error.message ?? "is invalid"}`;
  }
}

/**
 * Validate a parsed config and fill in its defaults (a deep copy; `raw` is not modified). Throws a
 * ConfigError listing every problem, each line prefixed with `source`.
 */
export function validatePipelineConfig(raw: unknown, source = "config"): PipelineConfig {
  validate ??= new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(pipelineConfigSchema);
  const config = raw === undefined ? undefined : (structuredClone(raw) as unknown);
  if (!validate(config)) {
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== "if");
    const lines = [...new Set(errors.map(describeAjvError))];
    throw new ConfigError(
      source,
      lines.map((line) => `${source}: ${line}`),
    );
  }
  const valid = config as PipelineConfig;
  const problems: string[] = [];
  const names = new Set<string>();
  valid.teachers.forEach((t, i) => {
    // An ONNX teacher is kept as the table of its scores.
    if (t.onnx) t.model = { kind: "score-table", source: t.onnx.file };
    if (names.has(t.name)) problems.push(`${source}: /teachers/${i}/name "${t.name}" is used twice`);
    names.add(t.name);
  });
  const methods = new Set<string>();
  valid.distillation.methods.forEach((m, i) => {
    if (methods.has(m.name)) problems.push(`${source}: /distillation/methods/${i}/name "${m.name}" is used twice`);
    methods.add(m.name);
  });
  valid.distillation.softLabels.ensemble?.teachers?.forEach((name, i) => {
    if (!names.has(name)) {
      problems.push(`${source}: /distillation/softLabels/ensemble/teachers/${i} "${name}" is not a configured teacher`);
    }
  });
  valid.compression?.steps.forEach((step, i) => {
    try {
      parseSteps(step);
    } catch (err) {
      problems.push(`${source}: /compression/steps/${i} ${(err as Error).message}`);
    }
  });
  if (problems.length) throw new ConfigError(source, problems);
  valid.output.dir ??= `runs/${valid.name}`;
  return valid;
}

/** Parse a JSON or YAML file (by extension; `.json` is JSON, anything else YAML, a JSON superset). */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return extname(source).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(source, [`${source}: cannot parse: ${(err as Error).message.split("\n")[0]}`]);
  }
}

/** Read, parse and validate a pipeline config file. */
export function loadPipelineConfig(path: string): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, [
      `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    ]);
  }
  return validatePipelineConfig(parseConfigText(text, path), path);
}

/** Named distillation methods (CLI `--method`, the default pipeline): their loss weights. */
export const METHOD_PRESETS: Readonly<Record<string, MethodWeights>> = {
  /** The student alone, on its own BPR loss. */
  none: { hard: 1 },
  /**
   * Ranking distillation (Tang & Wang 2018): the teacher's top 10 as extra positives, hybrid (position ×
   * dynamic) weights. List weights count per list as the hard term's per sample (docs/DISTILLATION.md).
   */
  ranking: { hard: 1, ranking: 10, rankingTopK: 10, rankingDynamic: 0.1 },
  /** KL divergence between teacher and student softmax over each candidate list. */
  listwise: { hard: 1, listwise: 100, temperature: 2 },
  /** Per-candidate binary cross-entropy against the teacher's sigmoid probabilities. */
  pointwise: { hard: 1, pointwise: 100, temperature: 2 },
  /**
   * Relaxed ranking distillation (DE-RRD): 10 interesting items drawn rank-discounted from the teacher's
   * top-K, ordered above 40 uninteresting ones drawn from the sampled items.
   */
  "relaxed-ranking": { hard: 1, relaxedRanking: 0.3, rrdInteresting: 10, rrdUninteresting: 40 },
  /**
   * Unbiased KD (UnKD, WSDM'23): the teacher's order as pairs within four popularity groups of the list's
   * unobserved items, eight pairs per group and list: no pair sets a popular item against an unpopular one.
   */
  unkd: { hard: 1, unkd: 10, unkdGroups: 4, unkdPairs: 8 },
  /** DE-RRD's distillation experts: five experts per side map the student's embeddings to the teacher's. */
  experts: { hard: 1, experts: 0.01 },
  /** Hierarchical topology distillation (KDD'21): within-group and group-level similarities, groups from DE's experts. */
  topology: { hard: 1, topology: 1, topologyKind: "hierarchical", experts: 0.01 },
  /** Hint (FitNets-style) distillation: the student's representation, projected, regresses the teacher's. */
  hint: { hard: 1, hint: 0.5 },
};

/**
 * The built-in pipeline (`npm start`): the synthetic shop, a self-attentive sequential teacher (SASRec, 64
 * wide, two blocks) and a two-tower teacher (64 wide), a tiny SASRec student (8 wide, one block), four ways
 * to train it — alone, listwise KL, ranking distillation (Tang & Wang 2018) and relaxed ranking — and the
 * best student compressed (fp16, int8, pruning, low rank). Sized to finish in a few minutes on two cores.
 */
export function defaultPipelineConfig(): PipelineConfig {
  // Next-item training with sampled softmax over 500 shared negatives (a third of the catalogue).
  const sequenceTrain = {
    batchSize: 128,
    optimizer: "adam",
    validateEvery: 3,
    patience: 6,
    sequenceLoss: "softmax",
    sequenceNegatives: 500,
  };
  return validatePipelineConfig(
    {
      name: "default",
      seed: 0,
      data: { kind: "synthetic", synthetic: { users: 3000, items: 1500, events: 120_000 } },
      evaluation: { negatives: 499, validationNegatives: 99, ks: [10, 20], fullRanking: true },
      teachers: [
        {
          name: "sasrec",
          model: { kind: "sasrec", dim: 64, blocks: 2, heads: 2, maxLength: 30, dropout: 0.2, seed: 4 },
          train: { ...sequenceTrain, epochs: 30, lr: 0.002 },
        },
        {
          name: "two-tower-64",
          model: { kind: "two-tower", dim: 64, maxHistory: 30, seed: 1 },
          train: { epochs: 10, batchSize: 512, lr: 0.002, optimizer: "adam", patience: 2 },
        },
      ],
      student: {
        model: { kind: "sasrec", dim: 8, blocks: 1, heads: 1, maxLength: 30, dropout: 0.2, seed: 3 },
        // A model an eighth as wide takes a larger step (Adam's step scales as 1/width, as μP sets it): at the
        // teacher's rate the tiny student ranked by popularity alone for its first ~12 epochs, and early
        // stopping on that plateau made runs fail at random (listwise NDCG@10 0.07 or 0.15 by the draws); at
        // 0.01 it leaves the plateau within ~6 epochs. Patience of four validations covers what remains of it.
        train: { ...sequenceTrain, epochs: 30, lr: 0.01, patience: 12 },
      },
      distillation: {
        methods: ["none", "listwise", "ranking", "relaxed-ranking"].map((name) => ({
          name,
          weights: { ...METHOD_PRESETS[name] },
        })),
        softLabels: { negatives: 100, topK: 20, positivesPerUser: 1, cache: true },
      },
      compression: { steps: ["fp16", "int8", "prune:0.3", "lowrank:0.9"], budget: 0.02, fineTuneEpochs: 2 },
      output: { dir: "runs/default" },
    },
    "defaultPipelineConfig()",
  );
}
