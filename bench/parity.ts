// bench:parity — distillrec beside PyTorch implementations of the same papers, on MovieLens 100K
// (leave-one-out by time, 499 sampled negatives). Method parity: one teacher trained by distillrec, its
// soft-label lists, its user and item vectors (teacher-user.bin, teacher-item.bin: the experts' and
// topology's targets) and per seed one student initialisation (BPR-MF, d = 20) go to both sides, and both
// train on the same batches (the peer draws every epoch's negatives and sample order as distillrec's trainer
// does for the seed, bench/peer/distillrec_sampling.py: the student alone then matches to float rounding);
// each side trains the student alone and under each distillation method, and distillrec evaluates every
// student with the same protocol. A method's gain is its NDCG@10 over the student alone's, per seed; the targets compare
// the two sides' gains (mean ± sd over seeds).
//
// The teacher (PARITY_TEACHER): "bpr-mf" (default), BPR-MF d = 200 with the student's optimiser; or
// "sasrec", the SASRec teacher of bench:sequential (d = 50, 2 blocks, next-item sampled softmax over 1000
// negatives, early stopping on validation NDCG@10, the best checkpoint), 1.5× the BPR student on ml-100k
// where BPR-MF d = 200 is no stronger than it. A SASRec teacher's soft labels and user vectors read each
// user's training history (its state after the last training item); the test metrics read train +
// validation, as the pipeline's do.
//
// `--from-results` recomputes the table, targets and notes from bench/results/<PARITY_RESULTS>.json.
// Environment: PARITY_TEACHER ("bpr-mf" or "sasrec"), PARITY_TEACHER_EPOCHS (the teacher's most epochs),
// PARITY_SEEDS (default 3), PARITY_EPOCHS (student epochs, default 60), PARITY_METHODS (comma-separated
// names of METHODS, default DEFAULT_METHODS), PARITY_RESULTS (default "parity", "parity-sasrec" with the
// SASRec teacher).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UniformSampler } from "../src/data/sampling.js";
import { distill } from "../src/distill/distill.js";
import type { DistillWeights } from "../src/distill/losses.js";
import { generateSoftLabels, type SoftLabels } from "../src/distill/soft-labels.js";
import { evaluateSampled } from "../src/eval/protocol.js";
import { batchUserVectors, isDotProduct } from "../src/models/dot-product.js";
import { isSequenceModel } from "../src/models/sequence.js";
import { createModel, type ModelSpec } from "../src/models/zoo.js";
import type { Recommender } from "../src/models/recommender.js";
import type { TrainSettings } from "../src/run/config.js";
import { loadData, prepareData, type PreparedData } from "../src/run/data.js";
import { testQuery } from "../src/run/evaluation.js";
import { softLabelOptions } from "../src/run/soft-labels.js";
import { trainModel } from "../src/run/training.js";
import {
  atLeast,
  formatMeanSd,
  meanSd,
  printTable,
  repoRoot,
  round,
  torchAvailable,
  torchBlas,
  writeResults,
  type Target,
} from "./common.js";
import { SASREC, TRAIN as SASREC_TRAIN } from "./sequential.js";

const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");
const PEER = join(repoRoot, "bench", "peer", "distill_torch.py");
const PYTHON = "/usr/bin/python3";
const WORK = join(repoRoot, "runs", "bench-parity");

const SEEDS = Number(process.env.PARITY_SEEDS ?? 3);
const TEACHER_KIND = process.env.PARITY_TEACHER ?? "bpr-mf";
/** The results file's name (bench/results/<name>.json): another name keeps a partial run apart. */
const RESULTS = process.env.PARITY_RESULTS ?? (TEACHER_KIND === "sasrec" ? "parity-sasrec" : "parity");
const EPOCHS = Number(process.env.PARITY_EPOCHS ?? 60);
/**
 * Adam, batch 1024, one negative per positive as DE-RRD; the learning rate is 5e-3 rather than its 1e-3 so
 * that sixty epochs converge, and only the teacher has weight decay (lazy, on the mean loss: 1e-5 ≈ the
 * papers' L2 of 1e-3 on a summed loss, see issue 15), so both sides train the student identically.
 */
const TRAIN = { batchSize: 1024, lr: Number(process.env.PARITY_LR ?? 5e-3), optimizer: "adam" as const };

/** A teacher: its spec, how distillrec trains it (early stopping on validation NDCG@10), and its name in the log. */
interface ParityTeacher {
  label: string;
  spec: ModelSpec;
  train: TrainSettings;
}

const TEACHERS: Record<string, ParityTeacher> = {
  "bpr-mf": {
    label: "BPR-MF d=200",
    spec: { kind: "bpr-mf", dim: 200, seed: 1 },
    train: { ...TRAIN, epochs: 60, patience: 60, weightDecay: 1e-5 },
  },
  sasrec: {
    label: `SASRec d=${SASREC.dim}`,
    spec: { kind: "sasrec", ...SASREC, seed: 1 },
    train: { ...SASREC_TRAIN, epochs: 200 },
  },
};

function chosenTeacher(): ParityTeacher {
  const teacher = TEACHERS[TEACHER_KIND];
  if (!teacher) {
    throw new Error(`PARITY_TEACHER: unknown teacher "${TEACHER_KIND}" (known: ${Object.keys(TEACHERS).join(", ")})`);
  }
  const epochs = process.env.PARITY_TEACHER_EPOCHS;
  return epochs === undefined ? teacher : { ...teacher, train: { ...teacher.train, epochs: Number(epochs) } };
}
const STUDENT_DIM = 20;
/** Soft-label lists: 1 observed item, the teacher's top 100, 200 sampled unobserved items. */
const LISTS = { positivesPerUser: 1, topK: 100, negatives: 200 };
const EVALUATION = { negatives: 499, validationNegatives: 499, ks: [10, 20], fullRanking: false };

/** A method: distillrec's weights and the PyTorch peer's flags for the same objective. */
interface ParityMethod {
  name: string;
  weights: DistillWeights;
  torch: string[];
}

function method(name: string, weights: DistillWeights): ParityMethod {
  const flags: Record<string, number | undefined> = {
    "--rd-topk": weights.rankingTopK,
    "--rd-lambda": weights.rankingLambda,
    "--rd-mu": weights.rankingDynamic,
    "--rrd-interesting": weights.rrdInteresting,
    "--rrd-uninteresting": weights.rrdUninteresting,
    "--rrd-temperature": weights.rrdTemperature,
    "--temperature": weights.temperature,
    "--experts": weights.expertCount,
    "--weight": weights.ranking ?? weights.relaxedRanking ?? weights.listwise ?? weights.topology ?? weights.experts,
    "--de-weight": weights.topology ? weights.experts : undefined,
  };
  const peer = weights.topology
    ? weights.topologyKind === "hierarchical"
      ? "htd"
      : "ftd"
    : weights.ranking
      ? "rd"
      : weights.relaxedRanking
        ? "rrd"
        : weights.listwise
          ? "listwise"
          : weights.experts
            ? "de"
            : "none";
  const torch = ["--method", peer];
  for (const [flag, value] of Object.entries(flags)) if (value !== undefined) torch.push(flag, String(value));
  return { name, weights, torch };
}

/**
 * The compared methods, each as its paper has it. The list weights are per list as the hard term's are
 * per sample (an ml-100k user has ~106 samples): chosen from one-seed runs of distillrec alone.
 */
export const METHODS: ParityMethod[] = [
  method("none", { hard: 1 }),
  method("ranking", { hard: 1, ranking: 10, rankingTopK: 10, rankingLambda: 10, rankingDynamic: 0.1 }),
  method("relaxed-ranking", {
    hard: 1,
    relaxedRanking: 0.3,
    rrdInteresting: 10,
    rrdUninteresting: 40,
    rrdTemperature: 10,
  }),
  method("listwise", { hard: 1, listwise: 100, temperature: 1 }),
  method("experts", { hard: 1, experts: 0.01, expertCount: 5 }),
  method("topology-full", { hard: 1, topology: 1 }),
  method("topology-hierarchical", {
    hard: 1,
    topology: 1,
    topologyKind: "hierarchical",
    experts: 0.01,
    expertCount: 5,
  }),
];

/**
 * What runs by default: the list methods. DE's experts (five MLPs per side over every batch's users and
 * items) and topology (every pair of a batch's ~1,200 users and items) take 10–30× a list method's time
 * (with the SASRec teacher ~225 s and ~400 s for three seeds of sixty epochs, on each side);
 * PARITY_METHODS adds "experts", "topology-full", "topology-hierarchical".
 */
const DEFAULT_METHODS = "ranking,relaxed-ranking,listwise";

/**
 * Test metrics as the pipeline reads them: a sequence model's user state from the training and validation
 * items; with `trainingHistory`, from the training items alone — what its soft-label lists and user vectors
 * read, so the most a student of them can learn.
 */
function testMetrics(model: Recommender, prepared: PreparedData, trainingHistory = false): Record<string, number> {
  const { test, seen, numItems } = prepared.testSet;
  const { negatives, ks } = EVALUATION;
  const query = trainingHistory ? undefined : testQuery(prepared.testSet);
  return evaluateSampled(model.scorer(), test, { seen, numItems, negatives, seed: 0, ks, ...(query ? { query } : {}) })
    .metrics;
}

function writeBin(dir: string, name: string, values: Int32Array | Float32Array): void {
  writeFileSync(join(dir, `${name}.bin`), new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** The student's parameters from raw float32 files (the peer's output), in parameters() order. */
function loadStudent(spec: ModelSpec, prepared: PreparedData, prefix: string): Recommender {
  const model = createModel(spec, prepared.context);
  const [user, item] = model.parameters();
  for (const [p, part] of [
    [user!, "user"],
    [item!, "item"],
  ] as const) {
    const buf = readFileSync(`${prefix}-${part}.bin`);
    const values = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    if (values.length !== p.size) throw new Error(`${prefix}-${part}.bin: ${values.length} values for ${p.size}`);
    p.data.set(values);
  }
  model.eval();
  return model;
}

/** Run the peer for one method over every seed, concurrently with distillrec's training. */
function runPeer(m: ParityMethod, seeds: number[]): Promise<{ runs: { seed: number; seconds: number }[] }> {
  const args = [PEER, "--data", WORK, "--seeds", seeds.join(","), "--epochs", String(EPOCHS), "--lr", String(TRAIN.lr)];
  args.push("--batch", String(TRAIN.batchSize), ...m.torch);
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split("\n").pop()!))
        : reject(new Error(`${PEER}: ${err.slice(-2000)}`)),
    );
  });
}

/**
 * The teacher's user vectors (each user's, from the context's training histories; the spare last row of
 * the student's user table zero) and item vectors, row-major [numUsers + 1, dt] and [numItems, dt].
 */
function teacherVectors(teacher: Recommender, numUsers: number): { users: Float32Array; items: Float32Array } {
  if (!isDotProduct(teacher))
    throw new Error(`bench:parity: the teacher (${teacher.kind}) has no user and item vectors`);
  const users = new Float32Array((numUsers + 1) * teacher.dim);
  const chunk = 256;
  for (let start = 0; start < numUsers; start += chunk) {
    const queries = Array.from({ length: Math.min(chunk, numUsers - start) }, (_, k) => ({ user: start + k }));
    users.set(batchUserVectors(teacher, queries), start * teacher.dim);
  }
  return { users, items: teacher.itemVectorTable() };
}

/** Teacher, soft labels and student initialisations written for the peer. */
async function setup(
  parity: ParityTeacher,
): Promise<{ prepared: PreparedData; teacher: Recommender; labels: SoftLabels; seconds: number }> {
  const prepared = prepareData(await loadData({ kind: "recbole", path: ML100K }, 0));
  const start = performance.now();
  const { model: teacher, bestEpoch } = await trainModel(prepared, parity.spec, parity.train, {
    name: "teacher",
    seed: 0,
    evaluation: EVALUATION,
    threads: 1,
  });
  teacher.eval();
  console.log(`  teacher ${parity.label}: best epoch ${bestEpoch}`);
  const labels = generateSoftLabels(teacher, softLabelOptions(prepared, LISTS, { seed: 0 }));
  mkdirSync(WORK, { recursive: true });
  const { numUsers, numItems } = prepared.context;
  const { positives, topK, negatives } = labels;
  const meta = { numUsers: numUsers + 1, numItems, dim: STUDENT_DIM, positives, topK, negatives };
  writeFileSync(join(WORK, "meta.json"), JSON.stringify(meta));
  writeBin(WORK, "users", prepared.samples.users);
  writeBin(WORK, "positives", prepared.samples.positives);
  writeBin(WORK, "label-users", labels.users);
  writeBin(WORK, "label-items", labels.items);
  writeBin(WORK, "label-scores", labels.teacherScores);
  const vectors = teacherVectors(teacher, numUsers);
  writeBin(WORK, "teacher-user", vectors.users);
  writeBin(WORK, "teacher-item", vectors.items);
  return { prepared, teacher, labels, seconds: (performance.now() - start) / 1000 };
}

function studentSpec(seed: number): ModelSpec {
  return { kind: "bpr-mf", dim: STUDENT_DIM, seed: 100 + seed };
}

/** Each method's NDCG@10 per seed on both sides, and the seconds each side took. */
type ParityScores = Record<string, { ours: number[]; torch: number[]; seconds: { ours: number; torch: number } }>;

/**
 * The gains, targets and table of `ndcg` (which must hold "none"): printed, with a sentence for every
 * method that lowers the student by more than 2 sd.
 */
function summarise(
  ndcg: ParityScores,
  methods: ParityMethod[],
  teacherMetrics: Record<string, number>,
): { rows: Record<string, unknown>[]; targets: Target[]; notes: string[] } {
  const alone = ndcg.none!;
  const gains = (side: "ours" | "torch", name: string) => ndcg[name]![side].map((x, s) => x / alone[side][s]! - 1);
  const rows: Record<string, unknown>[] = [];
  const targets: Target[] = [];
  for (const m of methods.filter((x) => x.name !== "none")) {
    const ours = meanSd(gains("ours", m.name));
    const torch = meanSd(gains("torch", m.name));
    const aloneSd = meanSd(alone.ours).sd / meanSd(alone.ours).mean;
    // A method counts as helping only when its gain exceeds 2 sd of the seeds' gains (issue 15).
    const helps = { ours: ours.mean > 2 * ours.sd, torch: torch.mean > 2 * torch.sd };
    rows.push({ method: m.name, weights: m.weights, ndcg: ndcg[m.name], gain: { ours, torch }, helps });
    targets.push(
      atLeast(
        `ml-100k ${m.name}: gain over the student alone − (PyTorch gain − 1 sd)`,
        ours.mean - (torch.mean - torch.sd),
        0,
        "NDCG@10 ratio",
      ),
      atLeast(
        `ml-100k ${m.name}: gain over the student alone + 2 sd`,
        ours.mean + 2 * Math.max(ours.sd, aloneSd),
        0,
        "NDCG@10 ratio",
      ),
    );
  }
  const best = rows
    .map((r) => ({ name: r.method as string, mean: meanSd(ndcg[r.method as string]!.ours).mean }))
    .sort((a, b) => b.mean - a.mean)[0];
  const aloneMean = meanSd(alone.ours).mean;
  if (best) {
    targets.push(
      atLeast(`ml-100k best method (${best.name}) NDCG@10 / student alone`, best.mean / aloneMean, 1.08, "ratio"),
      atLeast(
        `ml-100k best method (${best.name}) NDCG@10 / teacher`,
        best.mean / teacherMetrics["NDCG@10"]!,
        0.95,
        "ratio",
      ),
    );
  }

  printTable(
    ["method", "distillrec NDCG@10", "gain", "helps", "PyTorch NDCG@10", "gain", "helps", "s ours", "s torch"],
    methods.map((m) => {
      const r = ndcg[m.name]!;
      const gain = (side: "ours" | "torch") => {
        if (m.name === "none") return "—";
        const g = meanSd(gains(side, m.name));
        return `${(100 * g.mean).toFixed(1)}% ± ${(100 * g.sd).toFixed(1)}`;
      };
      const helps = (side: "ours" | "torch") => {
        if (m.name === "none") return "—";
        const g = meanSd(gains(side, m.name));
        return g.mean > 2 * g.sd ? "yes" : "no";
      };
      return [
        m.name,
        formatMeanSd(r.ours),
        gain("ours"),
        helps("ours"),
        formatMeanSd(r.torch),
        gain("torch"),
        helps("torch"),
        round(r.seconds.ours),
        round(r.seconds.torch),
      ];
    }),
  );
  const notes = rows
    .filter((r) => {
      const g = (r.gain as { ours: { mean: number; sd: number } }).ours;
      return g.mean + 2 * Math.max(g.sd, meanSd(alone.ours).sd / aloneMean) < 0;
    })
    .map(
      (r) =>
        `${r.method as string} lowers the student alone by more than 2 sd on ml-100k (this teacher, these weights)`,
    );
  for (const note of notes) console.log(`  NOTE: ${note}`);
  return { rows, targets, notes };
}

/**
 * Method parity on ml-100k: each method's NDCG@10 gain over the student alone, distillrec beside the
 * PyTorch peer, over `seeds` seeds; returns the table's rows and the targets of issue 15.
 */
export async function methodParity(seeds = SEEDS): Promise<{ results: Record<string, unknown>; targets: Target[] }> {
  const parityTeacher = chosenTeacher();
  const { prepared, teacher, labels, seconds } = await setup(parityTeacher);
  const teacherMetrics = testMetrics(teacher, prepared);
  const teacherFromTraining = isSequenceModel(teacher) ? testMetrics(teacher, prepared, true) : null;
  console.log(
    `  teacher ${parityTeacher.label}: NDCG@10 ${teacherMetrics["NDCG@10"]!.toFixed(4)} (${seconds.toFixed(0)} s)` +
      (teacherFromTraining
        ? `; from the training history alone (its lists' information) ${teacherFromTraining["NDCG@10"]!.toFixed(4)}`
        : ""),
  );
  const seedList = Array.from({ length: seeds }, (_, s) => s);
  for (const seed of seedList) {
    const [user, item] = createModel(studentSpec(seed), prepared.context).parameters();
    writeBin(WORK, `init-${seed}-user`, user!.data);
    writeBin(WORK, `init-${seed}-item`, item!.data);
  }
  const wanted = (process.env.PARITY_METHODS ?? DEFAULT_METHODS).split(",");
  const methods = METHODS.filter((m) => m.name === "none" || wanted.includes(m.name));
  const ndcg: ParityScores = {};
  for (const m of methods) {
    const peer = runPeer(m, seedList);
    const ours: number[] = [];
    const start = performance.now();
    for (const seed of seedList) {
      const { model } = await distill({
        ...TRAIN,
        model: studentSpec(seed),
        context: prepared.context,
        data: prepared.samples,
        epochs: EPOCHS,
        threads: 1,
        seed,
        sampler: new UniformSampler(prepared.trainSeen, prepared.context.numItems, { seed }),
        weights: m.weights,
        softLabels: labels,
        teacher,
        progress: false,
      });
      ours.push(testMetrics(model, prepared)["NDCG@10"]!);
    }
    const oursSeconds = (performance.now() - start) / 1000;
    const { runs } = await peer;
    const torch = seedList.map(
      (seed) =>
        testMetrics(loadStudent(studentSpec(seed), prepared, join(WORK, `torch-${m.torch[1]}-${seed}`)), prepared)[
          "NDCG@10"
        ]!,
    );
    const torchSeconds = runs.reduce((a, r) => a + r.seconds, 0);
    ndcg[m.name] = { ours, torch, seconds: { ours: oursSeconds, torch: torchSeconds } };
    console.log(
      `  ${m.name}: distillrec ${ours.map((x) => x.toFixed(4)).join(" ")}; PyTorch ${torch.map((x) => x.toFixed(4)).join(" ")}`,
    );
  }

  const { rows, targets, notes } = summarise(ndcg, methods, teacherMetrics);
  return {
    results: {
      protocol: "ml-100k, leave-one-out by time, 499 sampled negatives, NDCG@10 on test",
      settings: {
        ...TRAIN,
        epochs: EPOCHS,
        seeds,
        teacher: { ...parityTeacher.spec, train: parityTeacher.train },
        studentDim: STUDENT_DIM,
        lists: LISTS,
      },
      teacher: {
        metrics: teacherMetrics,
        ...(teacherFromTraining ? { metricsFromTrainingHistory: teacherFromTraining } : {}),
        seconds: round(seconds),
      },
      methods: rows,
      student: { ndcg: ndcg.none },
      notes,
    },
    targets,
  };
}

/** `--from-results`: the table, targets and notes again from bench/results/<RESULTS>.json's scores, without training. */
function fromResults(): { results: Record<string, unknown>; targets: Target[]; blas: unknown } {
  const path = join(repoRoot, "bench", "results", `${RESULTS}.json`);
  const saved = JSON.parse(readFileSync(path, "utf8")) as {
    results: {
      blas: unknown;
      methods: Record<string, unknown> & { methods: { method: string; ndcg: ParityScores[string] }[] };
    };
  };
  const previous = saved.results.methods;
  const ndcg: ParityScores = { none: (previous.student as { ndcg: ParityScores[string] }).ndcg };
  for (const row of previous.methods) ndcg[row.method] = row.ndcg;
  const methods = METHODS.filter((m) => m.name in ndcg);
  const teacher = (previous.teacher as { metrics: Record<string, number> }).metrics;
  const { rows, targets, notes } = summarise(ndcg, methods, teacher);
  return { results: { ...previous, methods: rows, notes }, targets, blas: saved.results.blas };
}

function printTargets(targets: Target[]): void {
  console.log();
  printTable(
    ["target", "measured", "target", "met"],
    targets.map((t) => [t.name, t.measured, t.target, t.met ? "yes" : "NO"]),
  );
}

async function main(): Promise<void> {
  console.log("bench:parity — distillrec beside PyTorch implementations of the same papers\n");
  if (process.argv.includes("--from-results")) {
    const { results, targets, blas } = fromResults();
    printTargets(targets);
    console.log(`\nresults: ${writeResults(RESULTS, { blas, methods: results }, targets)}`);
    return;
  }
  if (!torchAvailable()) throw new Error("bench:parity needs PyTorch (apt-get install -y python3-torch)");
  const blas = torchBlas();
  console.log(`ml-100k, method parity (${TEACHER_KIND} teacher, ${SEEDS} seeds, ${EPOCHS} epochs)`);
  const parity = await methodParity();
  const targets = parity.targets;
  printTargets(targets);
  console.log(`\nresults: ${writeResults(RESULTS, { blas, methods: parity.results }, targets)}`);
}

// Run as a script; imported (for another section of the bench), only the exports.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
