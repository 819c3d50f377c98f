/**
 * The whole pipeline as a library function (`distillrec run`): load or generate the data, split it
 * leave-one-out, train every teacher with early stopping on a sampled validation protocol, evaluate it on
 * test (sampled and full ranking, segments, task heads), generate soft labels from the best teacher
 * (cached), train the student alone and under every distillation method (hints learn from the best teacher
 * itself; optionally through a teacher assistant), measure each student's fidelity to the teacher, profile
 * every model, save each as an artefact, and write summary.json and report.html.
 *
 * The building blocks (prepareData, trainModel, evaluateModel, fidelityMetrics, profile) are exported for
 * the CLI's single-step commands.
 */
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { featureSchema } from "../data/features.js";
import { buildUserHistories, type UserHistories } from "../data/history.js";
import { IdMap } from "../data/idmap.js";
import { CONVERSION_RATING, conversionIndex, conversionLabels } from "../data/labels.js";
import { readDataset, readInteractions } from "../data/readers.js";
import { DataRng } from "../data/rng.js";
import { buildUserItemIndex, UniformSampler, type UserItemIndex } from "../data/sampling.js";
import { makeInteractions, select } from "../data/shaping.js";
import { leaveOneOut } from "../data/splits.js";
import { generateEcommerce } from "../data/synthetic.js";
import type { Dataset, Interactions } from "../data/types.js";
import {
  coldUserSegment,
  countOccurrences,
  evaluateFullRanking,
  evaluateSampled,
  evaluateTasks,
  fidelity,
  longTailSegment,
  rankSegments,
  type SegmentOf,
  type TaskScorer,
} from "../eval/protocol.js";
import { profileModel } from "../eval/profile.js";
import { saveArtefact, type ArtefactFeatures, type ArtefactManifest } from "../models/artefact.js";
import { featureInputs, historyInputs, type ModelContext } from "../models/context.js";
import type { ModelSpec } from "../models/zoo.js";
import { scoreTasks, type Recommender, type UserQuery } from "../models/recommender.js";
import {
  compress,
  describeStep,
  parseSteps,
  type CompressionResult,
  type CompressOptions,
  type StepReport,
} from "./compression.js";
import {
  METHOD_PRESETS,
  type DataConfig,
  type MethodWeights,
  type PipelineConfig,
  type TrainSettings,
} from "./config.js";
import { hasSoftTerms, needsSoftLabels, needsTeacher } from "../distill/program.js";
import { distillChain } from "../distill/multistep.js";
import {
  FIDELITY_PREFIX,
  FULL_RANKING_PREFIX,
  SEGMENT_PREFIX,
  writeReport,
  type CompressionRow,
  type ModelSummary,
  type RunSummary,
} from "./report.js";
import { generateSoftLabels, type SoftLabelOptions, type SoftLabels } from "../distill/soft-labels.js";
import { loadOrGenerate, modelFingerprint } from "../distill/soft-label-cache.js";
import { distill } from "../distill/distill.js";
import type { TrainResult } from "../train/trainer.js";
import { buildTrainingData, type TrainingData } from "../train/training-data.js";

/** Structured logging (a pino logger fits). */
export interface PipelineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of {@link runPipeline} and the building blocks. */
export interface PipelineOptions {
  log?: PipelineLog;
  /** Progress bars on stderr (only shown on a terminal). */
  progress?: boolean;
}

const silent: PipelineLog = { info() {}, warn() {} };

/** The data, split and indexed, with everything training and evaluation need. */
export interface PreparedData {
  dataset: Dataset;
  train: Interactions;
  valid: Interactions;
  test: Interactions;
  /** Train histories: the models' context (training, validation). */
  histories: UserHistories;
  context: ModelContext;
  /** Train items per user (validation masks these; negatives avoid them). */
  trainSeen: UserItemIndex;
  /** Everything test evaluation reads. */
  testSet: TestSet;
  /** Training samples, with conversion labels when the data has them. */
  samples: TrainingData;
}

/** What test evaluation reads beside the model (see testSetOf). */
export interface TestSet {
  test: Interactions;
  /** Train and validation items per user: masked, never sampled as negatives. */
  seen: UserItemIndex;
  numItems: number;
  /** Train + validation histories: what history-aware models read as the user's past when scoring the test item. */
  histories?: UserHistories;
  /** The segmentations results are broken down by (sampled protocol): cold users, long-tail items. */
  segments: SegmentOf[];
  /** The conversion label of each test row (data/labels.ts); absent when the data has none. */
  conversions?: Uint8Array;
}

/** Share of the test users with the fewest train interactions that form the "cold users" segment. */
export const COLD_USER_SHARE = 0.2;
/** Share of the catalogue, by train popularity, that forms the "head items" segment (the rest: long tail). */
export const HEAD_ITEM_SHARE = 0.2;
/** Test users, sampled once per run, over whom students' fidelity to the teacher is measured. */
export const FIDELITY_USERS = 300;

/**
 * The test set of a leave-one-out split: train + validation items masked and read as the users' histories;
 * "cold users" are the COLD_USER_SHARE of test users with the fewest train interactions (every user with at
 * most as many as the one at that quantile, so ties stay together), "long-tail items" the items outside the
 * HEAD_ITEM_SHARE most popular in train; conversion labels from `converted` (conversionIndex of the whole log).
 */
export function testSetOf(
  split: { train: Interactions; valid: Interactions; test: Interactions },
  numUsers: number,
  numItems: number,
  converted: UserItemIndex | null,
): TestSet {
  const { train, valid, test } = split;
  const past = concat(train, valid);
  const trainCounts = countOccurrences(train.users, numUsers);
  const testCounts = Int32Array.from(test.users, (u) => trainCounts[u]!).sort();
  const coldThreshold = testCounts[Math.max(0, Math.ceil(COLD_USER_SHARE * testCounts.length) - 1)] ?? 0;
  return {
    test,
    seen: buildUserItemIndex(past, numUsers),
    numItems,
    histories: buildUserHistories(past, numUsers),
    segments: [
      coldUserSegment(trainCounts, coldThreshold),
      longTailSegment(countOccurrences(train.items, numItems), HEAD_ITEM_SHARE),
    ],
    ...(converted ? { conversions: conversionLabels(test.users, test.items, converted) } : {}),
  };
}

/** Read (or generate) the dataset a data config names. */
export async function loadData(data: DataConfig, seed: number): Promise<Dataset> {
  switch (data.kind) {
    case "synthetic":
      return generateEcommerce({ seed, ...data.synthetic });
    case "recbole":
      return readDataset(data.path);
    case "file":
      return readInteractions(data.path, {
        format: data.format ?? "auto",
        ...(data.columns ? { columns: data.columns } : {}),
      });
    default:
      throw new Error(`unknown data kind "${(data as { kind: string }).kind}"`);
  }
}

/** Split a dataset leave-one-out and build the context (side features, train histories) and samples. */
export function prepareData(dataset: Dataset): PreparedData {
  const numUsers = dataset.users.size;
  const numItems = dataset.items.size;
  const { train, valid, test } = leaveOneOut(dataset.interactions);
  if (train.length === 0) throw new Error(`dataset "${dataset.name}" has no training interactions`);
  if (test.length === 0) {
    throw new Error(`dataset "${dataset.name}" has no user with 3 distinct items: nothing to test leave-one-out`);
  }
  const histories = buildUserHistories(train, numUsers);
  const context: ModelContext = { numUsers, numItems, histories: historyInputs(histories) };
  if (dataset.userFeatures) context.userFeatures = featureInputs(dataset.userFeatures);
  if (dataset.itemFeatures) context.itemFeatures = featureInputs(dataset.itemFeatures);
  const converted = conversionIndex(dataset.interactions, numUsers);
  return {
    dataset,
    train,
    valid,
    test,
    histories,
    context,
    trainSeen: buildUserItemIndex(train, numUsers),
    testSet: testSetOf({ train, valid, test }, numUsers, numItems, converted),
    samples: buildTrainingData(train, context, histories, converted),
  };
}

/** Two logs as one (rows of `a`, then rows of `b`). */
export function concat(a: Interactions, b: Interactions): Interactions {
  const join2 = <T extends Int32Array | Float32Array | Float64Array | Uint8Array>(x: T, y: T): T => {
    const out = new (x.constructor as new (n: number) => T)(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return makeInteractions({
    users: join2(a.users, b.users),
    items: join2(a.items, b.items),
    values: join2(a.values, b.values),
    timestamps: join2(a.timestamps, b.timestamps),
    eventTypes: join2(a.eventTypes, b.eventTypes),
  });
}

/**
 * The most sampled negatives per soft-label list (at most `requested`) that every user can get: the
 * catalogue minus the user's train items, the top-K and one spare item, for the user who has seen most.
 */
export function feasibleLabelNegatives(prepared: PreparedData, topK: number, requested: number): number {
  let maxSeen = 0;
  for (let u = 0; u < prepared.context.numUsers; u++) maxSeen = Math.max(maxSeen, prepared.trainSeen.count(u));
  return Math.max(0, Math.min(requested, prepared.context.numItems - maxSeen - topK - 1));
}

/** Settings of one evaluation (see PipelineConfig.evaluation). */
export interface EvaluationSettings {
  negatives: number;
  validationNegatives: number;
  ks: number[];
  fullRanking: boolean;
}

/** Sampled validation metrics (the early-stopping signal): valid items against `validationNegatives` unseen items. */
export function validator(
  prepared: PreparedData,
  evaluation: EvaluationSettings,
  seed: number,
): (model: Recommender) => Record<string, number> {
  return (model) =>
    evaluateSampled(model.scorer(), prepared.valid, {
      seen: prepared.trainSeen,
      numItems: prepared.context.numItems,
      negatives: evaluation.validationNegatives,
      seed,
      ks: evaluation.ks,
    }).metrics;
}

/** The query of a test user: history-aware models read everything before the test item, as serving would. */
function testQuery(testSet: TestSet): ((user: number) => UserQuery) | undefined {
  const { histories } = testSet;
  return histories ? (user) => ({ user, history: histories.recent(user, Infinity) }) : undefined;
}

/**
 * Test metrics, the train and validation items of each user masked:
 * - sampled ranking ("NDCG@10", …) and, when asked, full ranking ("full:NDCG@10", …);
 * - sampled NDCG@k and HR@k per segment ("segment:cold users:NDCG@10", with "segment:cold users:count");
 * - task heads as classification on the sampled lists (evaluateTasks): the main head as a click-style task
 *   ("main:AUC", "main:GAUC"; its logits are ranking scores, not calibrated probabilities, so only the ranking
 *   metrics of classification apply) and, when the test set has conversion labels, every extra head of a
 *   multi-task model on them ("conversion:AUC", "conversion:GAUC", "conversion:LogLoss", "conversion:F1", …).
 */
export function evaluateModel(
  model: Recommender,
  testSet: TestSet,
  evaluation: EvaluationSettings,
  seed: number,
): Record<string, number> {
  model.eval();
  const { test, seen, numItems } = testSet;
  const out: Record<string, number> = {};
  const query = testQuery(testSet);
  const options = { seen, numItems, negatives: evaluation.negatives, seed, ks: evaluation.ks, query };
  const sampled = evaluateSampled(model.scorer(), test, options);
  for (const [k, v] of Object.entries(sampled.metrics)) if (k !== "count") out[k] = v;
  if (evaluation.fullRanking) {
    const full = evaluateFullRanking(model.scorer(), test, { seen, numItems, ks: evaluation.ks, query });
    for (const [k, v] of Object.entries(full.metrics)) if (k !== "count") out[`${FULL_RANKING_PREFIX}${k}`] = v;
  }
  for (const segmentOf of testSet.segments) {
    for (const [segment, metrics] of Object.entries(rankSegments(sampled, segmentOf, evaluation.ks))) {
      for (const [k, v] of Object.entries(metrics)) {
        if (k === "count" || k.startsWith("NDCG@") || k.startsWith("HR@")) out[`${SEGMENT_PREFIX}${segment}:${k}`] = v;
      }
    }
  }
  const [main, ...extra] = model.tasks;
  const labels: Record<string, ArrayLike<number>> = { [main!]: new Uint8Array(test.length).fill(1) };
  if (testSet.conversions) for (const task of extra) labels[task] = testSet.conversions;
  for (const [task, metrics] of Object.entries(evaluateTasks(taskScorer(model), test, labels, options))) {
    for (const [k, v] of Object.entries(metrics)) {
      if (k !== "count" && (task !== main || k === "AUC" || k === "GAUC")) out[`${task}:${k}`] = v;
    }
  }
  return out;
}

/** Every head's logits for a user's candidates; a single-head model's come from its scorer (its fast path). */
function taskScorer(model: Recommender): TaskScorer {
  if (model.tasks.length > 1) return (query, items) => scoreTasks(model, query, items);
  const scorer = model.scorer();
  return (query, items) => ({ [model.tasks[0]!]: scorer.scoreCandidates(query, items) });
}

/**
 * A student's fidelity to its teacher ("fidelity:overlap@10", "fidelity:spearman", "fidelity:kendall"; see
 * eval/protocol.ts fidelity) over FIDELITY_USERS test users drawn with `seed`, both models reading the same
 * histories, each user's train and validation items excluded.
 */
export function fidelityMetrics(
  teacher: Recommender,
  student: Recommender,
  testSet: TestSet,
  seed: number,
): Record<string, number> {
  teacher.eval();
  student.eval();
  const testUsers = Int32Array.from(new Set(testSet.test.users)).sort();
  const users = new DataRng(seed).shuffle(testUsers).slice(0, FIDELITY_USERS).sort();
  const k = 10;
  const result = fidelity(teacher.scorer(), student.scorer(), users, {
    numItems: testSet.numItems,
    k,
    seen: testSet.seen,
    seed,
    query: testQuery(testSet),
  });
  return {
    [`${FIDELITY_PREFIX}overlap@${k}`]: result.topKOverlap,
    [`${FIDELITY_PREFIX}spearman`]: result.spearman,
    [`${FIDELITY_PREFIX}kendall`]: result.kendall,
  };
}

/**
 * Train one model on the prepared data: plain BPR, or distilling when the weights ask for it (list terms
 * from `softLabels`, the hint term from `teacher`).
 */
export async function trainModel(
  prepared: PreparedData,
  spec: ModelSpec,
  settings: TrainSettings,
  options: {
    name: string;
    seed: number;
    evaluation: EvaluationSettings;
    threads?: number;
    weights?: MethodWeights;
    softLabels?: SoftLabels;
    teacher?: Recommender;
    log?: PipelineLog;
    progress?: boolean;
    /** Fine-tune this model (built from `spec`) instead of training from scratch (see TrainOptions). */
    initial?: Recommender;
    constrain?: (model: Recommender) => void;
  },
): Promise<TrainResult> {
  const log = options.log ?? silent;
  const weights = options.weights ?? { hard: 1 };
  return distill({
    model: spec,
    context: prepared.context,
    data: prepared.samples,
    weights,
    ...(needsSoftLabels(weights) ? { softLabels: options.softLabels } : {}),
    ...(needsTeacher(weights) ? { teacher: options.teacher } : {}),
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    lr: settings.lr,
    ...(settings.schedule === undefined ? {} : { schedule: settings.schedule }),
    ...(settings.weightDecay === undefined ? {} : { weightDecay: settings.weightDecay }),
    optimizer: settings.optimizer,
    patience: settings.patience,
    threads: options.threads ?? availableParallelism(),
    seed: options.seed,
    sampler: new UniformSampler(prepared.trainSeen, prepared.context.numItems, { seed: options.seed }),
    validate: validator(prepared, options.evaluation, options.seed),
    monitor: "NDCG@10",
    progress: options.progress ?? false,
    ...(options.initial ? { initial: options.initial } : {}),
    ...(options.constrain ? { constrain: options.constrain } : {}),
    onEpoch: (r) =>
      log.info(
        {
          model: options.name,
          epoch: r.epoch,
          loss: round(r.loss),
          lr: r.lr,
          ...roundAll(r.metrics),
          seconds: round(r.seconds),
        },
        "epoch",
      ),
  });
}

/** Size, cost and median latency of a model (one request: score the catalogue, take the top 10). */
export function profile(
  model: Recommender,
  numUsers: number,
): { parameters: number; bytes: number; flopsPerItem: number; latencyMs: number } {
  const users = Array.from({ length: Math.max(1, Math.min(64, numUsers)) }, (_, u) => u);
  const p = profileModel(model, { users, reps: 60, warmup: 10 });
  return { parameters: p.parameters, bytes: p.bytes, flopsPerItem: p.flopsPerItem, latencyMs: p.latencyMs.p50 };
}

/** Where a run writes its outputs. */
export function pipelinePaths(config: PipelineConfig): {
  dir: string;
  models: string;
  softLabels: string;
  summary: string;
  report: string;
} {
  const dir = resolve(config.output.dir);
  return {
    dir,
    models: join(dir, "models"),
    softLabels: join(dir, "soft-labels"),
    summary: join(dir, "summary.json"),
    report: join(dir, "report.html"),
  };
}

/** Run the whole pipeline of `config`; returns the run summary (also written to summary.json). */
export async function runPipeline(config: PipelineConfig, options: PipelineOptions = {}): Promise<RunSummary> {
  const log = options.log ?? silent;
  const paths = pipelinePaths(config);
  mkdirSync(paths.models, { recursive: true });
  const seed = config.seed;
  const threads = config.threads ?? availableParallelism();
  const evaluation = config.evaluation;

  const dataset = await loadData(config.data, seed);
  const prepared = prepareData(dataset);
  const { context } = prepared;
  log.info(
    {
      dataset: dataset.name,
      users: context.numUsers,
      items: context.numItems,
      train: prepared.train.length,
      valid: prepared.valid.length,
      test: prepared.test.length,
    },
    "data",
  );

  const models: ModelSummary[] = [];
  /** The teacher with the best validation NDCG@10 so far: the one students learn from. */
  let best: { name: string; model: Recommender; manifest: ArtefactManifest; valid: number } | undefined;
  const common = { seed, evaluation, threads, log, progress: options.progress };
  /** Students trained so far, for the compression stage to pick the best of. */
  const students: { name: string; model: Recommender; spec: ModelSpec; valid: number; method?: string }[] = [];
  const finish = (
    name: string,
    role: ModelSummary["role"],
    model: Recommender,
    result: Pick<TrainResult, "bestMetrics" | "history"> & { bestEpoch?: number },
    spec: ModelSpec,
    lineage: Record<string, unknown>,
    method?: string,
    compressed?: CompressionResult,
  ): ArtefactManifest => {
    // Every model but a teacher learnt from the best teacher, directly or through the assistant.
    const metrics = {
      // Compression evaluated its final state with the same protocol already.
      ...(compressed ? compressed.final.test : evaluateModel(model, prepared.testSet, evaluation, seed)),
      ...(role === "teacher" ? {} : fidelityMetrics(best!.model, model, prepared.testSet, seed)),
    };
    const sized = profile(model, context.numUsers);
    const dir = join(paths.models, name);
    const validation = Object.fromEntries(Object.entries(result.bestMetrics).map(([k, v]) => [`valid:${k}`, v]));
    const manifest = saveArtefact(dir, {
      model,
      spec,
      users: dataset.users,
      items: dataset.items,
      features: datasetFeatures(dataset),
      metrics: {
        ...metrics,
        ...validation,
        ...(result.bestEpoch === undefined ? {} : { bestEpoch: result.bestEpoch }),
      },
      lineage: { ...lineage, ...(method ? { method } : {}), role, run: config.name, dataset: dataset.name },
      ...(compressed ? { storage: compressed.storage } : {}),
    });
    if (role === "student" || role === "distilled") {
      students.push({
        name,
        model,
        spec,
        valid: result.bestMetrics["NDCG@10"] ?? -Infinity,
        ...(method ? { method } : {}),
      });
    }
    models.push({
      name,
      role,
      ...(method ? { method } : {}),
      metrics,
      ...sized,
      fileBytes: manifest.files["weights.bin"].bytes,
      history: result.history.map((h) => ({ epoch: h.epoch, loss: h.loss, metrics: h.metrics })),
      ...(compressed ? { compression: compressed.steps.map(compressionRow) } : {}),
      artefact: dir,
    });
    log.info({ model: name, role, ...roundAll(metrics), ...sized, artefact: dir }, "evaluated");
    return manifest;
  };

  // Teachers.
  for (const teacher of config.teachers) {
    log.info({ model: teacher.name, spec: teacher.model }, "training teacher");
    const result = await trainModel(prepared, teacher.model, teacher.train, { ...common, name: teacher.name });
    const manifest = finish(teacher.name, "teacher", result.model, result, teacher.model, { data: config.data, seed });
    const valid = result.bestMetrics["NDCG@10"] ?? -Infinity;
    if (!best || valid > best.valid) best = { name: teacher.name, model: result.model, manifest, valid };
  }
  const teacher = best!;
  log.info({ teacher: teacher.name, validNDCG10: round(teacher.valid) }, "best teacher (by validation NDCG@10)");

  // Soft labels of the best teacher (cached).
  const methods = config.distillation.methods;
  const compression = config.compression;
  const needsLabels =
    methods.some((m) => needsSoftLabels(m.weights)) ||
    !!config.distillation.assistant ||
    (compression?.fineTuneEpochs ?? 0) > 0;
  const labelSettings = config.distillation.softLabels;
  const labelOptions = softLabelOptions(prepared, labelSettings, {
    seed,
    tasks: methods.some((m) => (m.weights.multiTask ?? 0) > 0),
  });
  const softLabels = needsLabels
    ? teacherSoftLabels(teacher.model, labelOptions, {
        log,
        requestedNegatives: labelSettings.negatives,
        ...(labelSettings.cache ? { cachePath: join(paths.softLabels, `${teacher.name}.soft`) } : {}),
      })
    : undefined;

  // Students: alone ("none" / pure hard weights) and with every distillation method.
  const student = config.student;
  for (const method of methods) {
    const weights = method.weights;
    const role = hasSoftTerms(weights) ? "distilled" : "student";
    const name = `student-${method.name}`;
    log.info({ model: name, method: method.name, weights }, "training student");
    const result = await trainModel(prepared, student.model, student.train, {
      ...common,
      name,
      weights: method.weights,
      softLabels,
      teacher: teacher.model,
    });
    finish(
      name,
      role,
      result.model,
      result,
      student.model,
      { teacher: teacher.manifest.id, data: config.data, seed },
      method.name,
    );
  }

  // Optional teacher → assistant → student chain, with the first method that distils.
  const assistant = config.distillation.assistant;
  if (assistant) {
    const method = methods.find((m) => hasSoftTerms(m.weights));
    if (!method) {
      log.warn({}, "assistant configured but no distillation method has soft terms: skipping the chain");
    } else {
      const weights = method.weights;
      log.info({ method: method.name }, "training the assistant chain");
      const chain = await distillChain({
        teacher: teacher.model,
        steps: [
          { name: "assistant", spec: assistant.model, weights, train: settingsOf(assistant.train ?? student.train) },
          {
            name: `student-${method.name}-via-assistant`,
            spec: student.model,
            weights,
            train: settingsOf(student.train),
          },
        ],
        softLabelOptions: labelOptions,
        trainOptions: {
          context,
          data: prepared.samples,
          epochs: student.train.epochs,
          threads,
          seed,
          sampler: new UniformSampler(prepared.trainSeen, context.numItems, { seed }),
          validate: validator(prepared, evaluation, seed),
          progress: options.progress ?? false,
        },
      });
      const [assistantStage, studentStage] = chain.stages as [(typeof chain.stages)[0], (typeof chain.stages)[0]];
      const assistantManifest = finish(
        "assistant",
        "assistant",
        assistantStage.model,
        assistantStage.result,
        assistant.model,
        { teacher: teacher.manifest.id, data: config.data, seed },
        method.name,
      );
      finish(
        studentStage.name,
        "distilled",
        studentStage.model,
        studentStage.result,
        student.model,
        { teacher: teacher.manifest.id, assistant: assistantManifest.id, data: config.data, seed },
        `${method.name} via assistant`,
      );
    }
  }

  // Compression: the best student (by validation), step by step within the budget.
  if (compression) {
    const chosen = students.reduce((a, b) => (b.valid > a.valid ? b : a));
    const steps = parseSteps(compression.steps.join(","), compression.fineTuneEpochs);
    log.info({ model: chosen.name, steps: steps.map(describeStep), budget: compression.budget }, "compressing");
    const compressed = await compress({
      spec: chosen.spec,
      model: chosen.model,
      steps,
      budget: compression.budget,
      onExceed: compression.onExceed,
      ...compressionHooks(prepared, {
        evaluation,
        seed,
        threads,
        ...(softLabels ? { softLabels } : {}),
        settings: { ...config.student.train, lr: compression.lr },
        log,
        progress: options.progress ?? false,
      }),
      log: (r) => log.info({ model: chosen.name, ...compressionRow(r) }, "compression step"),
    });
    finish(
      `${chosen.name}-compressed`,
      "compressed",
      compressed.model,
      { bestMetrics: { "NDCG@10": compressed.final.validation }, history: [] },
      compressed.spec,
      {
        teacher: teacher.manifest.id,
        data: config.data,
        seed,
        compressedFrom: chosen.name,
        compression: compressed.steps.map(compressionRow),
      },
      chosen.method,
      compressed,
    );
  }

  const summary: RunSummary = {
    name: config.name,
    createdAt: new Date().toISOString(),
    dataset: {
      name: dataset.name,
      users: context.numUsers,
      items: context.numItems,
      interactions: dataset.interactions.length,
    },
    protocol: protocolText(evaluation),
    models,
  };
  writeJsonAtomic(paths.summary, summary);
  await writeReport(paths.report, summary);
  log.info({ summary: paths.summary, report: paths.report, models: paths.models }, "done");
  return summary;
}

/**
 * What a compression schedule needs from the data: quality (validation NDCG@10 and test metrics),
 * top-10 latency, and fine-tuning — listwise distillation from `softLabels`, or the hard labels alone
 * without them — that starts from the model and re-applies the schedule's constraint every epoch.
 */
export function compressionHooks(
  prepared: PreparedData,
  options: {
    evaluation: EvaluationSettings;
    seed: number;
    threads?: number;
    softLabels?: SoftLabels;
    settings: Omit<TrainSettings, "epochs">;
    log?: PipelineLog;
    progress?: boolean;
  },
): Pick<CompressOptions, "evaluate" | "latency" | "fineTune"> {
  const { evaluation, seed, softLabels } = options;
  const validate = validator(prepared, evaluation, seed);
  return {
    evaluate: (model) => ({
      validation: validate(model)["NDCG@10"]!,
      test: evaluateModel(model, prepared.testSet, evaluation, seed),
    }),
    latency: (model) => profile(model, prepared.context.numUsers).latencyMs,
    fineTune: async (state, epochs, constrain) =>
      (
        await trainModel(
          prepared,
          state.spec,
          { ...options.settings, epochs },
          {
            name: "fine-tune",
            seed,
            evaluation,
            threads: options.threads ?? availableParallelism(),
            weights: softLabels ? METHOD_PRESETS.listwise! : { hard: 1 },
            ...(softLabels ? { softLabels } : {}),
            initial: state.model,
            constrain,
            ...(options.log ? { log: options.log } : {}),
            progress: options.progress ?? false,
          },
        )
      ).model,
  };
}

/** A compression step as the summary, the report and the artefact's lineage record it. */
export function compressionRow(r: StepReport): CompressionRow {
  return {
    step: r.step,
    status: r.status,
    bytes: r.bytes,
    validNDCG10: r.validation,
    testNDCG10: r.test["NDCG@10"] ?? null,
    latencyMs: r.latencyMs,
    note: r.note,
  };
}

/** The feature schemas an artefact of this dataset keeps (see ArtefactFeatures). */
export function datasetFeatures(dataset: Dataset): ArtefactFeatures {
  return {
    ...(dataset.userFeatures ? { users: featureSchema(dataset.userFeatures) } : {}),
    ...(dataset.itemFeatures ? { items: featureSchema(dataset.itemFeatures) } : {}),
  };
}

/** The data an artefact was trained on, from its lineage (undefined when it was not recorded). */
export function recordedData(manifest: ArtefactManifest): { data: DataConfig; seed: number } | undefined {
  const data = manifest.lineage.data as DataConfig | undefined;
  if (!data || typeof data !== "object" || typeof data.kind !== "string") return undefined;
  const seed = typeof manifest.lineage.seed === "number" ? manifest.lineage.seed : 0;
  return { data, seed };
}

/** Soft-label settings (see PipelineConfig.distillation.softLabels). */
export interface SoftLabelSettings {
  negatives: number;
  topK: number;
  positivesPerUser: number;
}

/** Soft-label options for every user with train interactions; fewer negatives when the catalogue is too small. */
export function softLabelOptions(
  prepared: PreparedData,
  settings: SoftLabelSettings,
  options: { seed: number; tasks?: boolean },
): SoftLabelOptions {
  const { context, trainSeen } = prepared;
  return {
    users: Int32Array.from({ length: context.numUsers }, (_, u) => u).filter((u) => trainSeen.count(u) > 0),
    seen: trainSeen,
    positivesPerUser: settings.positivesPerUser,
    negatives: feasibleLabelNegatives(prepared, settings.topK, settings.negatives),
    topK: settings.topK,
    seed: options.seed,
    numItems: context.numItems,
    tasks: options.tasks ?? false,
  };
}

/** A teacher's soft labels, reused from (or saved to) `cachePath` when given and still valid for this teacher. */
export function teacherSoftLabels(
  teacher: Recommender,
  labelOptions: SoftLabelOptions,
  options: { cachePath?: string; log?: PipelineLog; requestedNegatives?: number } = {},
): SoftLabels {
  const log = options.log ?? silent;
  if (options.requestedNegatives !== undefined && labelOptions.negatives < options.requestedNegatives) {
    log.warn(
      { requested: options.requestedNegatives, used: labelOptions.negatives },
      "the catalogue is too small for that many soft-label negatives per user: using fewer",
    );
  }
  teacher.eval();
  const generate = () => generateSoftLabels(teacher, labelOptions);
  if (!options.cachePath) {
    const labels = generate();
    log.info({ rows: labels.users.length }, "soft labels generated");
    return labels;
  }
  mkdirSync(dirname(options.cachePath), { recursive: true });
  const meta = {
    teacher: modelFingerprint(teacher),
    users: labelOptions.users.length,
    positivesPerUser: labelOptions.positivesPerUser,
    negatives: labelOptions.negatives,
    topK: labelOptions.topK,
    seed: labelOptions.seed,
    numItems: labelOptions.numItems,
    tasks: labelOptions.tasks ?? false,
  };
  const cached = loadOrGenerate(options.cachePath, meta, generate);
  log.info({ path: options.cachePath, cached: cached.cached, reason: cached.reason }, "soft labels");
  return cached.labels;
}

/** The evaluation protocol in words, for the report. */
export function protocolText(evaluation: EvaluationSettings): string {
  const full = evaluation.fullRanking ? " and against the whole catalogue (full ranking)" : "";
  const percent = (share: number) => `${Math.round(share * 100)}%`;
  return (
    `leave-one-out per user (last item test, second-to-last validation, the rest train); ` +
    `test: each user's held-out item ranked against ${evaluation.negatives} sampled unseen items${full}, ` +
    `train and validation items masked, history-aware models reading the train and validation items as the ` +
    `user's past; early stopping on validation NDCG@10 against ` +
    `${evaluation.validationNegatives} sampled items; metrics at k = ${evaluation.ks.join(", ")}; ` +
    `segments: cold users (the ${percent(COLD_USER_SHARE)} of test users with the fewest train interactions, ` +
    `ties included) and long-tail items (outside the ${percent(HEAD_ITEM_SHARE)} most popular in train); ` +
    `task heads scored as classifiers on the sampled lists (a pair converts when any of its events is a cart or ` +
    `purchase, or a rating ≥ ${CONVERSION_RATING}); fidelity to the teacher over ${FIDELITY_USERS} test users`
  );
}

function settingsOf(s: TrainSettings) {
  return {
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    optimizer: s.optimizer,
    patience: s.patience,
    ...(s.schedule === undefined ? {} : { schedule: s.schedule }),
    ...(s.weightDecay === undefined ? {} : { weightDecay: s.weightDecay }),
  };
}

/** Rows of `interactions` whose user and item exist in the given id maps, re-indexed into them. */
export function alignToIds(
  dataset: Dataset,
  users: IdMap,
  items: IdMap,
): { interactions: Interactions; dropped: number } {
  const userIndex = Int32Array.from(
    { length: dataset.users.size },
    (_, u) => users.get(dataset.users.external(u)) ?? -1,
  );
  const itemIndex = Int32Array.from(
    { length: dataset.items.size },
    (_, i) => items.get(dataset.items.external(i)) ?? -1,
  );
  const { interactions } = dataset;
  const keep: number[] = [];
  for (let r = 0; r < interactions.length; r++) {
    if (userIndex[interactions.users[r]!]! >= 0 && itemIndex[interactions.items[r]!]! >= 0) keep.push(r);
  }
  const kept = select(interactions, keep);
  return {
    interactions: makeInteractions({
      users: Int32Array.from(kept.users, (u) => userIndex[u]!),
      items: Int32Array.from(kept.items, (i) => itemIndex[i]!),
      values: kept.values,
      timestamps: kept.timestamps,
      eventTypes: kept.eventTypes,
    }),
    dropped: interactions.length - keep.length,
  };
}

/** Whether two id maps hold the same ids in the same order. */
export function sameIds(a: IdMap, b: IdMap): boolean {
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (a.external(i) !== b.external(i)) return false;
  return true;
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function roundAll(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)]));
}
