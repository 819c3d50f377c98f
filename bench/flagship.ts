// bench:flagship — the default pipeline (`npm start`) as a user runs it, each run a child process timed from
// start to end: three seeds at one thread (mean ± sd of every model's metrics), then repeated runs of seed 0
// at two threads against its one-thread figures. Writes bench/results/flagship.json (FlagshipResult).
//
//   npm run bench:flagship [-- --seeds 3 --two-thread-runs 10]
//   npm run bench:flagship -- --from-results   (recompute the figures and targets from flagship.json's runs)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelSummary, ReferenceSummary, RunSummary } from "../src/run/summary.js";
import { atLeast, atMost, gitCommit, meanSd, printTable, printTargets, repoRoot, round } from "./common.js";
import { KEPT, modelsOverSeeds, seededConfig, shownStats } from "./default-pipeline.js";
import type { FlagshipModel, FlagshipResult } from "./flagship-result.js";

/** Where the README shows the run directory (the output's temporary paths are rewritten to it). */
const SHOWN_RUN_DIR = "~/distillrec/runs/default";

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

interface Run {
  seconds: number;
  output: string;
  summary: RunSummary;
}

/** One `distillrec run` in a child process, as `npm start` runs it. */
function runOnce(seed: number, threads: number): Run {
  const dir = mkdtempSync(join(tmpdir(), "distillrec-flagship-"));
  try {
    const out = join(dir, "run");
    const configPath = join(dir, "config.json");
    writeFileSync(configPath, JSON.stringify(seededConfig(seed, out)));
    const cli = join(repoRoot, "dist/src/cli/main.js");
    const args = [cli, "run", "--config", configPath, "--threads", String(threads), "--no-progress"];
    const started = performance.now();
    const child = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 << 20 });
    const seconds = (performance.now() - started) / 1000;
    if (child.status !== 0)
      throw new Error(`distillrec run (seed ${seed}, ${threads} threads) failed:\n${child.stderr}`);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary;
    console.error(`  seed ${seed}, ${threads} thread(s): ${seconds.toFixed(0)} s`);
    return { seconds, output: child.stdout.split(out).join(SHOWN_RUN_DIR), summary };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ndcg = (m: ModelSummary | ReferenceSummary | undefined): number => m?.metrics["full:NDCG@10"] ?? NaN;
const named = (s: RunSummary, name: string): ModelSummary | undefined => s.models.find((m) => m.name === name);
/** The student trained alone, which every lift is taken against. */
const alone = (s: RunSummary): ModelSummary | undefined => s.models.find((m) => m.role === "student");
const shippedOf = (s: RunSummary): ModelSummary | undefined => s.models.find((m) => m.role === "compressed");
/** The teacher the students learn from: the pipeline keeps the best by validation; its lineage names it. */
const teacherOf = (s: RunSummary): ModelSummary | undefined =>
  s.models
    .filter((m) => m.role === "teacher")
    .reduce<ModelSummary | undefined>((a, m) => (a && ndcg(a) >= ndcg(m) ? a : m), undefined);

const path = join(repoRoot, "bench", "results", "flagship.json");

/** What the runs measured (on which commit, when): each seed's summary and time at one thread, and each two-thread run. */
interface Measured {
  commit: string;
  date: string;
  summaries: RunSummary[];
  runtimeSeconds: number[];
  twoThreads: { seconds: number; ndcg: Record<string, number> }[];
  sampleOutput: string;
}

function measure(): Measured {
  const [commit, date] = [gitCommit(), new Date().toISOString()];
  const seeds = Array.from({ length: option("seeds", 3) }, (_, s) => s);
  const oneThread = seeds.map((seed) => runOnce(seed, 1));
  const twoThreads = Array.from({ length: option("two-thread-runs", 10) }, () => runOnce(0, 2));
  return {
    commit,
    date,
    summaries: oneThread.map((r) => r.summary),
    runtimeSeconds: measured.runtimeSeconds,
    twoThreads: twoThreads.map((run) => ({
      seconds: round(run.seconds),
      ndcg: Object.fromEntries(run.summary.models.map((m) => [m.name, round(ndcg(m))])),
    })),
    sampleOutput: measured.sampleOutput,
  };
}

/** The runs an earlier bench:flagship recorded in flagship.json. */
function recorded(): Measured {
  const earlier = JSON.parse(readFileSync(path, "utf8")) as FlagshipResult;
  return {
    commit: earlier.commit,
    date: earlier.date,
    summaries: earlier.summaries,
    runtimeSeconds: earlier.runtimeSeconds,
    twoThreads: earlier.twoThreadRuns,
    sampleOutput: earlier.sampleOutput,
  };
}

const measured = process.argv.includes("--from-results") ? recorded() : measure();
const { summaries } = measured;
const seeds = summaries.map((_, s) => s);
const first = summaries[0]!;

const { models, reference } = modelsOverSeeds(summaries);
const shippedNames = new Set(summaries.map((s) => shippedOf(s)?.name));

const mean = (values: number[]): number => meanSd(values).mean;
const perSeed = (f: (s: RunSummary) => number): number => mean(summaries.map(f));
const byName = (name: string): FlagshipModel => models.find((m) => m.name === name)!;
const meanOf = (m: FlagshipModel, key = "NDCG@10"): number => m.metrics[key]?.mean ?? NaN;
const studentAlone = meanOf(models.find((m) => m.role === "student")!);
const bestDistilled = Math.max(...models.filter((m) => m.role === "distilled").map((m) => meanOf(m)));
const bestTeacher = meanOf(byName(teacherOf(first)!.name));
const shippedRatio = (key: string, against: (s: RunSummary) => ModelSummary | undefined): number =>
  perSeed((s) => (shippedOf(s)?.metrics[KEPT[key]!] ?? NaN) / (against(s)?.metrics[KEPT[key]!] ?? NaN));

// Two threads against one, seed 0: each run's largest relative gap of any model's NDCG@10.
const twoThreads = measured.twoThreads;
const gaps = twoThreads.map((run) =>
  Math.max(...Object.entries(run.ndcg).map(([name, value]) => Math.abs(value / ndcg(named(first, name)) - 1))),
);
const aloneName = alone(first)!.name;
/** A two-thread run's shipped student: its one compressed model. */
const shippedName = (run: { ndcg: Record<string, number> }): string =>
  Object.keys(run.ndcg).find((name) => name.endsWith("-compressed"))!;
const shippedOverAlone = twoThreads.map((run) => run.ndcg[shippedName(run)]! / run.ndcg[aloneName]!);
const twoThreadSeconds = twoThreads.map((r) => r.seconds).sort((a, b) => a - b);
const medianSeconds = twoThreadSeconds[Math.floor(twoThreadSeconds.length / 2)] ?? NaN;

printTable(
  ["model", "role", "params", "NDCG@10", "coverage@10", "long-tail NDCG@10"],
  [...models, ...(reference ? [reference] : [])].map((m) => [
    m.name,
    m.role,
    m.params,
    shownStats(m, "NDCG@10"),
    shownStats(m, "coverage@10"),
    shownStats(m, "longTailNDCG@10"),
  ]),
);
console.log("");
printTable(
  ["two-thread run", "seconds", "largest gap to one thread", "shipped / alone"],
  twoThreads.map((run, i) => [i + 1, round(run.seconds), round(gaps[i]!), round(shippedOverAlone[i]!)]),
);
console.log("");

const targets = [
  atLeast(
    "best distilled student / student alone (NDCG@10, one thread, mean of seeds)",
    bestDistilled / studentAlone,
    1.3,
    "×",
  ),
  atLeast("teacher / student alone (NDCG@10)", bestTeacher / studentAlone, 1.5, "×"),
  atMost(
    `largest gap of any model's NDCG@10, two threads vs one (${twoThreads.length} runs)`,
    Math.max(...gaps),
    0.03,
    "relative",
  ),
  atLeast("shipped student / student alone, worst two-thread run", Math.min(...shippedOverAlone), 1.25, "×"),
  atLeast("shipped student coverage@10 / the teacher's", shippedRatio("coverage@10", teacherOf), 0.5, "×"),
  atLeast("shipped student long-tail NDCG@10 / the teacher's", shippedRatio("longTailNDCG@10", teacherOf), 0.5, "×"),
  atLeast("shipped student NDCG@10 / student alone", shippedRatio("NDCG@10", alone), 1.25, "×"),
  atLeast(
    "shipped student NDCG@10 / popularity ranker",
    perSeed((s) => ndcg(shippedOf(s)) / ndcg(s.references?.[0])),
    1,
    "×",
  ),
  atMost("npm start wall time on two threads (median run)", medianSeconds, 180, "s"),
];
printTargets(targets);

const shipped = shippedOf(first);
const result: FlagshipResult = {
  commit: measured.commit,
  date: measured.date,
  seeds,
  threads: 1,
  runtimeSeconds: measured.runtimeSeconds,
  models,
  ...(reference ? { reference } : {}),
  shipped: {
    name: shipped?.name ?? "none",
    reason:
      "the student with the best validation NDCG@10, compressed within the 2% budget" +
      (shippedNames.size > 1 ? ` (by seed: ${summaries.map((s) => shippedOf(s)?.name).join(", ")})` : ""),
  },
  targets,
  sampleOutput: measured.sampleOutput,
  twoThreadRuns: twoThreads.map((run, i) => ({
    seconds: run.seconds,
    largestGap: round(gaps[i]!),
    shippedOverAlone: round(shippedOverAlone[i]!),
    ndcg: run.ndcg,
  })),
  summaries,
};
writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${path}`);
