// bench:methods — every distillation method on the default pipeline (`npm start`'s shop, its SASRec teacher and
// tiny SASRec student) at one thread, over three seeds, beside the teacher and the popularity ranker: full-ranking
// NDCG@10, coverage and the long tail's figures, mean ± sd. Writes bench/results/methods.json.
//
//   npm run bench:methods
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { METHOD_PRESETS, type PipelineConfig } from "../src/run/config.js";
import { runPipeline } from "../src/run/pipeline.js";
import type { RunSummary } from "../src/run/summary.js";
import { atLeast, benchLog, printTable, printTargets, round, writeResults } from "./common.js";
import { modelsOverSeeds, seededConfig, shownStats } from "./default-pipeline.js";

const SEEDS = [0, 1, 2];
/** "none" is the student alone; the others are METHOD_PRESETS as the default pipeline uses them. */
const METHODS = ["none", "listwise", "relaxed-ranking", "ranking", "unkd"];
const TEACHER = "sasrec";
/** What the table shows of each model: the result file's metric key and its column. */
const SHOWN: [string, string][] = [
  ["NDCG@10", "NDCG@10"],
  ["sampledNDCG@10", "sampled NDCG@10"],
  ["longTailNDCG@10", "long-tail NDCG@10"],
  ["coverage@10", "coverage@10"],
  ["longTailShare@10", "long-tail share@10"],
];

/** The default pipeline of `seed` with only what this comparison needs. */
function methodsConfig(seed: number, out: string): PipelineConfig {
  const config = seededConfig(seed, out);
  // One teacher is all the students learn from; the two-tower one would only cost time.
  config.teachers = config.teachers.filter((t) => t.name === TEACHER);
  config.distillation.methods = METHODS.map((name) => ({ name, weights: { ...METHOD_PRESETS[name]! } }));
  delete config.compression;
  config.threads = 1;
  return config;
}

async function runSeed(config: PipelineConfig): Promise<{ summary: RunSummary; seconds: number }> {
  const started = performance.now();
  const summary = await runPipeline(config, { log: benchLog, progress: false });
  const seconds = (performance.now() - started) / 1000;
  console.error(`  seed ${config.seed}: ${seconds.toFixed(0)} s`);
  return { summary, seconds };
}

const work = mkdtempSync(join(tmpdir(), "distillrec-methods-"));
const configs = SEEDS.map((seed) => methodsConfig(seed, join(work, `seed-${seed}`)));
const runs: { summary: RunSummary; seconds: number }[] = [];
try {
  for (const config of configs) runs.push(await runSeed(config));
} finally {
  rmSync(work, { recursive: true, force: true });
}
const summaries = runs.map((r) => r.summary);
const failures = summaries.flatMap((s) => s.failures ?? []);
if (failures.length) throw new Error(`models stopped as failures: ${JSON.stringify(failures)}`);
const { models, reference } = modelsOverSeeds(summaries);

printTable(
  ["model", "role", ...SHOWN.map(([, column]) => column)],
  [...models, ...(reference ? [reference] : [])].map((m) => [
    m.name,
    m.role,
    ...SHOWN.map(([key]) => shownStats(m, key)),
  ]),
);
console.log("");

const meanOf = (name: string, key: string): number => models.find((m) => m.name === name)?.metrics[key]?.mean ?? NaN;
/** UnKD's mean over the seeds over listwise's (the default pipeline ships listwise). */
const unkdOverListwise = (key: string): number => meanOf("student-unkd", key) / meanOf("student-listwise", key);
const targets = [
  atLeast("unkd NDCG@10 / listwise's", unkdOverListwise("NDCG@10"), 1, "×"),
  atLeast("unkd long-tail NDCG@10 / listwise's", unkdOverListwise("longTailNDCG@10"), 1, "×"),
  atLeast("unkd long-tail share@10 / listwise's", unkdOverListwise("longTailShare@10"), 1, "×"),
];
printTargets(targets);

const { threads, student } = configs[0]!;
const path = writeResults(
  "methods",
  {
    seeds: SEEDS,
    threads,
    teacher: TEACHER,
    methods: METHODS,
    student: { lr: student.train.lr, epochs: student.train.epochs },
    runtimeSeconds: runs.map((r) => round(r.seconds)),
    models,
    ...(reference ? { reference } : {}),
  },
  targets,
);
console.log(`\nwrote ${path}`);
