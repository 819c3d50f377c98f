/**
 * The JSON schema of the pipeline config (ajv, draft-07 keywords): the shape, the allowed values and the
 * defaults validation fills in. The names a config may use live here too, beside the enums that list them.
 */
import { MODEL_KINDS } from "../models/zoo.js";
import { HARD_LOSSES } from "../train/losses.js";
import { CONSENSUS_KINDS } from "../distill/soft-labels.js";
import { LOSS_REDUCTIONS } from "../train/program.js";
import { NEGATIVE_SAMPLERS, SEQUENCE_LOSSES } from "../train/sequence.js";
import { TABLE_UPDATES } from "../engine/optim.js";

/** Optimisers a config may name. */
export const OPTIMIZERS = ["adam", "adamw", "adagrad", "sgd"] as const;
/** Learning-rate schedules a config may name (train/schedule.ts). */
export const SCHEDULE_KINDS = ["step", "exponential", "warmup"] as const;
/** File formats of `data.kind: "file"`. */
export const DATA_FORMATS = ["auto", "recbole", "movielens", "csv", "tsv", "jsonl"] as const;

const positiveInt = { type: "integer", minimum: 1 } as const;
const nonNegative = { type: "number", minimum: 0 } as const;
const intList = { type: "array", items: positiveInt } as const;

/** How an id vocabulary is embedded (engine/tables.ts IdTableSpec). */
const idTable = {
  type: "object",
  required: ["kind"],
  properties: {
    kind: { enum: ["full", "qr", "hashed"] },
    remainderRows: positiveInt,
    combine: { enum: ["mul", "add"] },
    buckets: positiveInt,
    seed: { type: "integer" },
  },
  additionalProperties: false,
  if: { properties: { kind: { const: "hashed" } } },
  then: { required: ["buckets"] },
} as const;

const modelSpec = {
  type: "object",
  required: ["kind"],
  properties: {
    kind: { enum: [...MODEL_KINDS] },
    dim: positiveInt,
    gmfDim: positiveInt,
    embeddingDim: positiveInt,
    maxHistory: positiveInt,
    mlpSizes: intList,
    deepSizes: intList,
    userLayers: intList,
    itemLayers: intList,
    initStd: { type: "number", exclusiveMinimum: 0 },
    retrieval: { enum: ["f32", "int8"] },
    userTable: idTable,
    itemTable: idTable,
    seed: { type: "integer" },
  },
  // Model configs have many settings of their own; the model checks them when it is built.
  additionalProperties: true,
} as const;

/** A teacher from another engine: an ONNX file, its input and output names, and the id map (interop/onnx-teacher.ts). */
const onnxTeacher = {
  type: "object",
  required: ["file", "inputs", "output", "idMap"],
  properties: {
    file: { type: "string", minLength: 1 },
    inputs: {
      type: "object",
      required: ["user", "item"],
      properties: {
        user: { type: "string", minLength: 1 },
        item: { type: "string", minLength: 1 },
        history: { type: "string", minLength: 1 },
      },
      additionalProperties: false,
    },
    output: { type: "string", minLength: 1 },
    idMap: { type: "string", minLength: 1 },
    historyLength: positiveInt,
    historyPad: { type: "integer", minimum: 0 },
    batchSize: positiveInt,
  },
  additionalProperties: false,
} as const;

/**
 * A schedule of one of `kinds`: each kind requires its own settings and refuses the others' by name (a
 * `gamma` on a warm-up would otherwise be silently ignored).
 */
function scheduleSchema(kinds: readonly (typeof SCHEDULE_KINDS)[number][]): Record<string, unknown> {
  const settings = {
    step: { required: ["stepSize"], optional: ["gamma"] },
    exponential: { required: ["gamma"], optional: [] },
    warmup: { required: ["warmupSteps"], optional: ["then"] },
  } as const;
  const properties = {
    stepSize: positiveInt,
    gamma: { type: "number", exclusiveMinimum: 0 },
    warmupSteps: positiveInt,
    // A warm-up hands over to a schedule without a warm-up of its own.
    ...(kinds.includes("warmup") ? { then: scheduleSchema(["step", "exponential"]) } : {}),
  };
  return {
    type: "object",
    required: ["kind"],
    properties: { kind: { enum: [...kinds] }, ...properties },
    additionalProperties: false,
    allOf: kinds.map((kind) => {
      const own: readonly string[] = [...settings[kind].required, ...settings[kind].optional];
      const others = Object.keys(properties).filter((key) => !own.includes(key));
      return {
        if: { required: ["kind"], properties: { kind: { const: kind } } },
        then: {
          required: [...settings[kind].required],
          properties: Object.fromEntries(others.map((key) => [key, false])),
        },
      };
    }),
  };
}

const trainSettings = {
  type: "object",
  properties: {
    epochs: { type: "integer", minimum: 0, default: 20 },
    batchSize: { ...positiveInt, default: 1024 },
    lr: { type: "number", exclusiveMinimum: 0, default: 0.001 },
    weightDecay: {
      ...nonNegative,
      description:
        "torch.optim's weight_decay (AdamW: decoupled), on every parameter the optimiser updates; against the batch loss as lossReduction reduces it — with the default mean about batch-size times stronger than the same number in PyTorch code that sums the loss",
    },
    tableUpdates: {
      enum: [...TABLE_UPDATES],
      description:
        "embedding tables: lazy updates only the batch's rows (torch SparseAdam; decay reaches only them); dense updates every row every step (torch Adam on dense embeddings)",
    },
    lossReduction: {
      enum: [...LOSS_REDUCTIONS],
      description:
        "the optimiser follows the batch's mean loss (default) or its sum, as PyTorch reference code writes it",
    },
    l2: {
      ...nonNegative,
      description:
        "the BPR papers' L2: weight of the sum of squares of the batch's user and item vectors (the embedding rows of BPR-MF) over the batch size; dot-product models only",
    },
    betas: {
      type: "array",
      items: { type: "number", minimum: 0, exclusiveMaximum: 1 },
      minItems: 2,
      maxItems: 2,
      description: "Adam's β1, β2 (default [0.9, 0.999]; SASRec's reference code uses [0.9, 0.98])",
    },
    sequenceLoss: {
      enum: [...SEQUENCE_LOSSES],
      description:
        "sequence models (sasrec): next-item training per position, the paper's binary cross-entropy against one sampled negative (bce, default) or sampled softmax over shared negatives",
    },
    sequenceNegatives: {
      ...positiveInt,
      description: "shared negatives per batch of the sampled softmax (default 100)",
    },
    sequenceSampler: {
      enum: [...NEGATIVE_SAMPLERS],
      description:
        "where the sampled softmax draws its negatives: popularity (default; in proportion to training interactions, logQ-corrected) or uniform (the SASRec references')",
    },
    optimizer: { enum: [...OPTIMIZERS], default: "adam" },
    patience: { ...positiveInt, default: 3 },
    validateEvery: { ...positiveInt, description: "validate every this many epochs, and after the last (default 1)" },
    schedule: scheduleSchema(SCHEDULE_KINDS),
  },
  additionalProperties: false,
  default: {},
} as const;

const weightsSchema = {
  type: "object",
  properties: {
    ...Object.fromEntries(
      [
        "hard",
        "hardTasks",
        "pointwise",
        "listwise",
        "ranking",
        "relaxedRanking",
        // Unbiased KD (WSDM'23): the teacher's order in pairs within popularity groups.
        "unkd",
        "hint",
        // DE-RRD's distillation experts (dot-product teacher and student).
        "experts",
        // Topology distillation (KDD'21): FTD, or HTD with topologyKind "hierarchical" (needs experts).
        "topology",
        "multiTask",
        "rankingLambda",
        // μ of ranking distillation's dynamic weights (0: position weights only).
        "rankingDynamic",
      ].map((k) => [k, nonNegative]),
    ),
    // Sample sizes within the soft-label slices: the first top items of ranking distillation, relaxed
    // ranking's interesting (top-K slice) and uninteresting (sampled slice) items per list.
    rankingTopK: positiveInt,
    expertCount: positiveInt,
    topologyKind: { enum: ["full", "hierarchical"] },
    rrdInteresting: positiveInt,
    rrdUninteresting: positiveInt,
    rrdTemperature: { type: "number", exclusiveMinimum: 0 },
    unkdGroups: positiveInt,
    unkdPairs: positiveInt,
    unkdTemperature: { type: "number", exclusiveMinimum: 0 },
    hardLoss: { enum: [...HARD_LOSSES] },
  },
  additionalProperties: false,
} as const;

/** The JSON schema of pipeline configs (with defaults, for ajv's useDefaults). */
export const pipelineConfigSchema = {
  type: "object",
  required: ["name", "data", "teachers", "student", "distillation"],
  properties: {
    name: { type: "string", minLength: 1, pattern: "^[A-Za-z0-9._-]+$" },
    seed: { type: "integer", default: 0 },
    data: {
      type: "object",
      required: ["kind"],
      properties: {
        kind: { enum: ["synthetic", "recbole", "file"] },
        synthetic: {
          type: "object",
          properties: {
            users: positiveInt,
            items: positiveInt,
            events: positiveInt,
            seed: { type: "integer" },
            categories: positiveInt,
            brands: positiveInt,
            drift: { type: "number", minimum: 0, maximum: 1 },
            dimension: positiveInt,
            poolSize: positiveInt,
            meanSessionViews: { type: "number", exclusiveMinimum: 0 },
            zipfExponent: nonNegative,
            startTime: { type: "number" },
            days: { type: "number", exclusiveMinimum: 0 },
            sessionIntent: { type: "number", minimum: 0, maximum: 1 },
            complementRate: { type: "number", minimum: 0, maximum: 1 },
            featureCross: nonNegative,
            popularityDrift: nonNegative,
          },
          additionalProperties: false,
        },
        path: { type: "string", minLength: 1 },
        format: { enum: [...DATA_FORMATS] },
        columns: {
          type: "object",
          properties: Object.fromEntries(
            ["user", "item", "value", "timestamp"].map((k) => [k, { type: ["string", "integer"] }]),
          ),
          additionalProperties: false,
        },
      },
      additionalProperties: false,
      allOf: [
        { if: { properties: { kind: { enum: ["recbole", "file"] } } }, then: { required: ["path"] } },
        {
          if: { properties: { kind: { const: "synthetic" } } },
          then: { not: { anyOf: [{ required: ["path"] }, { required: ["format"] }, { required: ["columns"] }] } },
        },
      ],
    },
    split: {
      type: "object",
      properties: {
        kind: {
          enum: ["leave-one-out", "files"],
          default: "leave-one-out",
          description:
            "leave-one-out: each user's last event is the test, the one before it validation, the rest train; files: the data is the train part and valid / test name the other parts, as a published protocol gives them",
        },
        valid: { type: "string", minLength: 1, description: "files: the validation interactions (the data's format)" },
        test: { type: "string", minLength: 1, description: "files: the test interactions (the data's format)" },
        candidates: {
          type: "string",
          minLength: 1,
          description:
            "files: the fixed negatives each test user's item is ranked against, one line per user (user, then items), instead of sampled ones",
        },
      },
      additionalProperties: false,
      allOf: [
        { if: { properties: { kind: { const: "files" } }, required: ["kind"] }, then: { required: ["valid", "test"] } },
        {
          if: { properties: { kind: { const: "leave-one-out" } } },
          then: { not: { anyOf: [{ required: ["valid"] }, { required: ["test"] }, { required: ["candidates"] }] } },
        },
      ],
      default: {},
    },
    evaluation: {
      type: "object",
      properties: {
        negatives: { ...positiveInt, default: 499 },
        validationNegatives: { ...positiveInt, default: 99 },
        ks: { ...intList, minItems: 1, default: [10, 20] },
        fullRanking: { type: "boolean", default: true },
      },
      additionalProperties: false,
      default: {},
    },
    teachers: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", minLength: 1 },
          model: modelSpec,
          train: trainSettings,
          onnx: onnxTeacher,
        },
        // A teacher is trained from a model spec, or scored by an ONNX file: one of the two.
        oneOf: [{ required: ["model"] }, { required: ["onnx"] }],
        additionalProperties: false,
      },
    },
    student: {
      type: "object",
      required: ["model"],
      properties: { model: modelSpec, train: trainSettings },
      additionalProperties: false,
    },
    distillation: {
      type: "object",
      required: ["methods"],
      properties: {
        methods: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["name"],
            properties: {
              name: { type: "string", minLength: 1 },
              weights: {
                ...weightsSchema,
                properties: {
                  ...weightsSchema.properties,
                  temperature: { type: "number", exclusiveMinimum: 0 },
                },
                default: {},
              },
            },
            additionalProperties: false,
          },
        },
        softLabels: {
          type: "object",
          properties: {
            negatives: { type: "integer", minimum: 0, default: 100 },
            topK: { type: "integer", minimum: 0, default: 10 },
            positivesPerUser: { type: "integer", minimum: 0, default: 1 },
            cache: { type: "boolean", default: true },
            // Ensemble distillation: soft labels from the consensus of the named teachers (default all).
            ensemble: {
              type: "object",
              required: ["consensus"],
              properties: {
                consensus: { enum: [...CONSENSUS_KINDS] },
                teachers: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
              },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
          default: {},
        },
        assistant: {
          type: "object",
          required: ["model"],
          properties: { model: modelSpec, train: trainSettings },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
    compression: {
      type: "object",
      required: ["steps"],
      properties: {
        steps: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
        budget: { type: "number", minimum: 0, exclusiveMaximum: 1, default: 0.02 },
        onExceed: { enum: ["rollback", "stop"], default: "rollback" },
        fineTuneEpochs: { type: "integer", minimum: 0, default: 2 },
        lr: { type: "number", exclusiveMinimum: 0, default: 0.001 },
      },
      additionalProperties: false,
    },
    output: {
      type: "object",
      properties: { dir: { type: "string", minLength: 1 } },
      additionalProperties: false,
      default: {},
    },
    threads: positiveInt,
  },
  additionalProperties: false,
} as const;
