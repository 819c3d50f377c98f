/**
 * `npm run bench:engine` — training throughput of the compute core against PyTorch on the same models,
 * batches and optimisers: BPR-MF (6 040 users × 3 706 items) at dim 200 and 20, and NeuMF (GMF 64 + MLP
 * 128→64), each at batch 1024 and batch 32 (online), plus matmul GFLOPS. Writes bench/results/engine.json.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { TrainingPool, shareArray } from "../src/engine/parallel.js";
import { matmulGflops } from "../src/engine/profile.js";
import { Rng } from "../src/engine/random.js";
import type { ModelSpec } from "../src/models/index.js";
import { distillProgramUrl, type DistillConfig, type DistillTrainer } from "../src/distill/program.js";
import {
  atLeast,
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

const USERS = 6040;
const ITEMS = 3706;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const THREADS = Number(process.env.BENCH_THREADS ?? Math.min(2, availableParallelism()));
const LR = 1e-3;
const MATMUL_SIZES = [64, 256, 512];

interface Case {
  name: string;
  model: "mf" | "neumf";
  dim?: number;
  gmfDim?: number;
  mlpDims?: number[];
  batch: number;
  /** Our throughput must reach this multiple of PyTorch's. */
  target: number;
}

const CASES: Case[] = [
  { name: "mf200-b1024", model: "mf", dim: 200, batch: 1024, target: 1 },
  { name: "mf20-b1024", model: "mf", dim: 20, batch: 1024, target: 1 },
  { name: "neumf-b1024", model: "neumf", gmfDim: 64, mlpDims: [128, 64], batch: 1024, target: 0.5 },
  { name: "mf200-b32", model: "mf", dim: 200, batch: 32, target: 3 },
  { name: "mf20-b32", model: "mf", dim: 20, batch: 32, target: 3 },
  { name: "neumf-b32", model: "neumf", gmfDim: 64, mlpDims: [128, 64], batch: 32, target: 3 },
];

function spec(c: Case): ModelSpec {
  return c.model === "mf"
    ? { kind: "bpr-mf", dim: c.dim! }
    : { kind: "neumf", gmfDim: c.gmfDim!, mlpSizes: c.mlpDims! };
}

/** Uniformly drawn (user, positive, negative) triples, the same distribution the PyTorch peer draws. */
function triples(n: number, seed: number) {
  const rng = new Rng(seed);
  const draw = (m: number) => shareArray(Int32Array.from({ length: n }, () => rng.int(m)));
  return { users: draw(USERS), positives: draw(ITEMS), negatives: draw(ITEMS) };
}

async function ours(c: Case): Promise<number> {
  const samples = c.batch >= 1024 ? 1 << 18 : 1 << 15;
  const data = triples(samples, 1);
  const pool = await TrainingPool.start<DistillConfig, DistillTrainer>({
    programUrl: distillProgramUrl,
    config: {
      model: spec(c),
      context: { numUsers: USERS, numItems: ITEMS },
      lr: LR,
      optimizer: "adam",
      weights: { hard: 1 },
    },
    data,
    threads: THREADS,
  });
  try {
    const order = Int32Array.from({ length: samples }, (_, i) => i);
    await pool.epoch(order.subarray(0, Math.min(samples, c.batch * 8 * THREADS)), c.batch); // warm-up
    let done = 0;
    const start = performance.now();
    while (performance.now() - start < SECONDS * 1000) done += (await pool.epoch(order, c.batch)).samples;
    return done / ((performance.now() - start) / 1000);
  } finally {
    await pool.close();
  }
}

interface PeerResult {
  peer: string;
  cases: Record<string, number>;
  matmul_gflops: Record<string, number>;
  /** Which BLAS torch loaded (added by the bench). */
  blas: TorchBlas;
}

/** The same cases in PyTorch (run after ours, so the two never compete for the cores). */
function runPeer(): PeerResult | null {
  if (!torchAvailable()) {
    console.log("  PyTorch not installed (apt-get install -y python3-torch): no ratios this run");
    return null;
  }
  console.log("  running the PyTorch peer …");
  const config = {
    threads: THREADS,
    users: USERS,
    items: ITEMS,
    seconds: SECONDS,
    lr: LR,
    cases: CASES,
    matmulSizes: MATMUL_SIZES,
  };
  const blas = torchBlas();
  return {
    ...(runPython(join(repoRoot, "bench", "peer", "engine_torch.py"), [
      "--config",
      JSON.stringify(config),
    ]) as PeerResult),
    blas,
  };
}

async function main(): Promise<void> {
  console.log(`bench:engine — ${THREADS} threads, ${SECONDS}s per case, ${USERS} users × ${ITEMS} items\n`);
  const mine: Record<string, number> = {};
  for (const c of CASES) {
    mine[c.name] = await ours(c);
    console.log(`  ours  ${c.name.padEnd(12)} ${Math.round(mine[c.name]!).toLocaleString("en-US")} samples/s`);
  }
  const gflops: Record<string, number> = {};
  for (const n of MATMUL_SIZES) gflops[n] = matmulGflops(n, SECONDS / 2);

  const peer = runPeer();
  console.log();
  const rows = CASES.map((c) => {
    const torch = peer?.cases[c.name];
    return [
      c.name,
      mine[c.name]!,
      torch ?? "—",
      torch ? `${(mine[c.name]! / torch).toFixed(2)}×` : "—",
      `≥ ${c.target}×`,
    ];
  });
  printTable(["case (samples/s)", "distillrec", "pytorch", "ratio", "target"], rows);
  console.log();
  printTable(
    ["matmul n×n×n (GFLOPS)", "distillrec", "pytorch"],
    MATMUL_SIZES.map((n) => [String(n), gflops[n]!, peer?.matmul_gflops[String(n)] ?? "—"]),
  );

  const targets: Target[] = peer
    ? CASES.map((c) =>
        atLeast(`${c.name} throughput vs PyTorch`, mine[c.name]! / peer!.cases[c.name]!, c.target, "ratio"),
      )
    : [];
  const path = writeResults(
    "engine",
    {
      threads: THREADS,
      secondsPerCase: SECONDS,
      peer: peer?.peer ?? null,
      pytorchBlas: peer?.blas ?? null,
      samplesPerSecond: Object.fromEntries(Object.entries(mine).map(([k, v]) => [k, round(v)])),
      pytorchSamplesPerSecond: peer?.cases ?? null,
      matmulGflops: Object.fromEntries(Object.entries(gflops).map(([k, v]) => [k, round(v)])),
      pytorchMatmulGflops: peer?.matmul_gflops ?? null,
    },
    targets,
  );
  console.log(`\nresults: ${path}`);
}

await main();
