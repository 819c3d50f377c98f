// bench:distill — every teacher, the student alone and the student under every distillation method, on
// MovieLens 100K (the protocol of ../shared/peer/torch_reference.py, which runs in the same process tree)
// and on the built-in synthetic shop. Quality, parameters, bytes and latency per model; the targets.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { loadPipelineConfig, type PipelineConfig } from "../src/run/config.js";
import { loadData, prepareData } from "../src/run/data.js";
import { runPipeline } from "../src/run/pipeline.js";
import { evaluateFullRanking, evaluateSampled } from "../src/eval/protocol.js";
import type { ModelSummary, RunSummary } from "../src/run/summary.js";
import {
  atLeast,
  benchLog,
  atMost,
  printTable,
  repoRoot,
  round,
  runPython,
  torchAvailable,
  torchBlas,
  type TorchBlas,
  writeResults,
  type Target,
} from "./common.js";

const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");
const PEER = join(repoRoot, "..", "shared", "peer", "torch_reference.py");

/** What the PyTorch reference prints (the fields used here). */
interface PeerResult {
  peer: string;
  teacher: Record<string, number>;
  student: Record<string, number>;
  kd_student: Record<string, number>;
  teacher_train_samples_per_s: number;
  /** Which BLAS torch loaded (added by the bench). */
  blas: TorchBlas;
}

function config(name: string): PipelineConfig {
  const cfg = loadPipelineConfig(join(repoRoot, "bench", "configs", `${name}.yaml`));
  // Paths in the bench configs are relative to the repository root, wherever the bench is started.
  if (cfg.data.kind !== "synthetic" && !isAbsolute(cfg.data.path)) cfg.data.path = join(repoRoot, cfg.data.path);
  if (!isAbsolute(cfg.output.dir)) cfg.output.dir = join(repoRoot, cfg.output.dir);
  return cfg;
}

/** `--from-runs`: recompute tables and targets from the last run's summaries instead of training again. */
const fromRuns = process.argv.includes("--from-runs");

async function run(cfg: PipelineConfig): Promise<{ summary: RunSummary; seconds: number | null }> {
  if (fromRuns) {
    const path = join(cfg.output.dir, "summary.json");
    if (!existsSync(path)) throw new Error(`--from-runs: ${path} is missing; run the benchmark without it first`);
    return { summary: JSON.parse(readFileSync(path, "utf8")) as RunSummary, seconds: null };
  }
  const start = performance.now();
  const summary = await runPipeline(cfg, { log: benchLog, progress: false });
  return { summary, seconds: (performance.now() - start) / 1000 };
}

/**
 * The popularity baseline (train interaction counts) on the pipeline's test protocol: what any learned
 * model must clearly beat.
 */
async function popularity(cfg: PipelineConfig): Promise<Record<string, number>> {
  const prepared = prepareData(await loadData(cfg.data, cfg.seed));
  const { test, seen, numItems } = prepared.testSet;
  const counts = new Float32Array(numItems);
  for (const item of prepared.train.items) counts[item]! += 1;
  const scorer = {
    scoreAll: () => counts.slice(),
    scoreCandidates: (_query: unknown, items: Int32Array) => Float32Array.from(items, (i) => counts[i]!),
  };
  const { ks, negatives } = cfg.evaluation;
  const sampled = evaluateSampled(scorer, test, { seen, numItems, negatives, seed: cfg.seed, ks }).metrics;
  const full = evaluateFullRanking(scorer, test, { seen, numItems, ks }).metrics;
  return { ...sampled, ...Object.fromEntries(Object.entries(full).map(([k, v]) => [`full:${k}`, v])) };
}

/** The PyTorch reference on ml-100k, kept beside the run's summary (and read back with --from-runs). */
function pytorchReference(path: string): PeerResult | null {
  if (fromRuns) return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as PeerResult) : null;
  if (!torchAvailable()) {
    console.log("  PyTorch not installed (apt-get install -y python3-torch): no reference this run");
    return null;
  }
  console.log("ml-100k: the PyTorch reference (../shared/peer/torch_reference.py)");
  const blas = torchBlas();
  const peer = { ...(runPython(PEER, ["--inter", join(ML100K, "ml-100k.inter")]) as PeerResult), blas };
  writeFileSync(path, JSON.stringify(peer, null, 2) + "\n");
  return peer;
}

function table(summary: RunSummary, baseline: Record<string, number>): void {
  const metric = (metrics: Record<string, number>, key: string) => metrics[key] ?? "—";
  const quality = (metrics: Record<string, number>) =>
    ["NDCG@10", "HR@10", "full:Recall@20", "full:NDCG@20"].map((k) => metric(metrics, k));
  printTable(
    ["model", "role", "NDCG@10", "HR@10", "Recall@20 full", "NDCG@20 full", "params", "bytes", "latency ms"],
    [
      ["popularity", "baseline", ...quality(baseline), "—", "—", "—"],
      ...summary.models.map((m) => [m.name, m.role, ...quality(m.metrics), m.parameters, m.bytes, m.latencyMs]),
    ],
  );
}

/** A model's validation NDCG@10 at its best epoch (the checkpoint the pipeline kept). */
function valid(m: ModelSummary): number {
  return Math.max(-Infinity, ...m.history.map((h) => h.metrics["NDCG@10"] ?? -Infinity));
}

/** The teacher the pipeline distilled from (best validation NDCG@10), the undistilled and the best distilled student. */
function roles(summary: RunSummary) {
  const byValid = (a: ModelSummary, b: ModelSummary) => valid(b) - valid(a);
  const teacher = summary.models.filter((m) => m.role === "teacher").sort(byValid)[0]!;
  const alone = summary.models.find((m) => m.role === "student" && m.method === "none");
  // The distilled student is chosen on validation, never on test.
  const distilled = summary.models.filter((m) => m.role === "distilled").sort(byValid)[0];
  return { teacher, alone, distilled };
}

function studentTargets(dataset: string, summary: RunSummary): Target[] {
  const { teacher, alone, distilled } = roles(summary);
  if (!distilled || !alone) return [];
  const ndcg = (m: ModelSummary) => m.metrics["NDCG@10"]!;
  const label = `${dataset} ${distilled.name}`;
  return [
    atMost(`${label} parameters / teacher (${teacher.name})`, distilled.parameters / teacher.parameters, 0.1, "ratio"),
    atLeast(`${label} NDCG@10 / teacher NDCG@10`, ndcg(distilled) / ndcg(teacher), 0.95, "ratio"),
    atLeast(`${label} NDCG@10 / undistilled student NDCG@10`, ndcg(distilled) / ndcg(alone), 1.05, "ratio"),
  ];
}

function took(seconds: number | null): string {
  return seconds === null ? "from the last run" : `pipeline ${seconds.toFixed(0)} s`;
}

function rounded(metrics: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)]));
}

function slim(summary: RunSummary) {
  return {
    dataset: summary.dataset,
    protocol: summary.protocol,
    models: summary.models.map((m) => ({
      name: m.name,
      role: m.role,
      method: m.method ?? null,
      metrics: rounded({ ...m.metrics, "valid:NDCG@10": valid(m) }),
      parameters: m.parameters,
      bytes: m.bytes,
      flopsPerItem: m.flopsPerItem,
      latencyMs: round(m.latencyMs),
      epochs: m.history.length,
    })),
  };
}

async function main(): Promise<void> {
  console.log("bench:distill — teachers, students and distillation methods\n");
  const results: Record<string, unknown> = {};
  const targets: Target[] = [];

  if (existsSync(join(ML100K, "ml-100k.inter"))) {
    console.log("ml-100k: distillrec pipeline (bench/configs/ml-100k.yaml)");
    const cfg = config("ml-100k");
    const { summary, seconds } = await run(cfg);
    const baseline = await popularity(cfg);
    const peer = pytorchReference(join(cfg.output.dir, "pytorch.json"));
    console.log(`\nml-100k (${summary.protocol}; ${took(seconds)})\n`);
    table(summary, baseline);
    if (peer) {
      console.log();
      printTable(
        ["PyTorch reference", "NDCG@10", "HR@10"],
        (["teacher", "student", "kd_student"] as const).map((k) => [k, peer![k]["NDCG@10"]!, peer![k]["HR@10"]!]),
      );
      const { teacher } = roles(summary);
      targets.push(
        atLeast(
          `ml-100k best teacher (${teacher.name}) NDCG@10 / PyTorch teacher NDCG@10`,
          teacher.metrics["NDCG@10"]! / peer.teacher["NDCG@10"]!,
          1.2,
          "ratio",
        ),
      );
    }
    targets.push(...studentTargets("ml-100k", summary));
    results["ml-100k"] = {
      ...slim(summary),
      popularity: rounded(baseline),
      pipelineSeconds: seconds === null ? null : round(seconds),
      pytorch: peer,
    };
  } else {
    console.log(`ml-100k not found at ${ML100K}: skipped`);
  }

  console.log("\nsynthetic: distillrec pipeline (bench/configs/synthetic.yaml)");
  const syntheticConfig = config("synthetic");
  const synthetic = await run(syntheticConfig);
  const syntheticBaseline = await popularity(syntheticConfig);
  console.log(`\nsynthetic (${synthetic.summary.protocol}; ${took(synthetic.seconds)})\n`);
  table(synthetic.summary, syntheticBaseline);
  targets.push(...studentTargets("synthetic", synthetic.summary));
  results.synthetic = {
    ...slim(synthetic.summary),
    popularity: rounded(syntheticBaseline),
    pipelineSeconds: synthetic.seconds === null ? null : round(synthetic.seconds),
  };

  console.log();
  printTable(
    ["target", "measured", "target", "met"],
    targets.map((t) => [t.name, t.measured, t.target, t.met ? "yes" : "NO"]),
  );
  console.log(`\nresults: ${writeResults("distill", results, targets)}`);
}

await main();
