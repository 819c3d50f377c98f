/**
 * `npm run bench:serve-retrieval` — top-10 retrieval latency of the serving indexes, in process, one query at
 * a time: exact fp32 and int8 scans over 100k and 1M item vectors of dim 32, and the IVF index (int8, default
 * lists and probes) with its recall@10 against exact search; beside torch.topk(E @ q, 10) on the same sizes. Writes
 * bench/results/serve-retrieval.json.
 *
 * The vectors are a Gaussian mixture, as trained item embeddings cluster by taste: 4 096 centres ~ N(0, I),
 * each item a random centre + N(0, 0.5² I); queries (user vectors) are drawn the same way. Recall depends on
 * that structure (on isotropic noise no partition of the space helps); the latency of the exact scans does not.
 */
import { join } from "node:path";
import { Rng } from "../src/engine/random.js";
import { ExactIndex, IvfIndex, measureRecall, type Precision } from "../src/engine/retrieval.js";
import {
  atLeast,
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

const DIM = 32;
const K = 10;
const SIZES = [100_000, 1_000_000];
const QUERIES = Number(process.env.BENCH_QUERIES ?? 1000);
const WARMUP = 200;
/** Queries over which recall is measured (each also runs an exact search). */
const RECALL_QUERIES = 500;
const CENTRES = 4096;
const SPREAD = 0.5;
const SEED = 1;

interface Latency {
  p50: number;
  p99: number;
}

interface Case {
  name: string;
  items: number;
  index: string;
  buildMs: number;
  latency: Latency;
  /** IVF only: recall@10 against the exact int8 index (what the IVF approximates) and exact fp32. */
  recall?: { vsInt8: number; vsF32: number };
}

/** Rows drawn from the mixture, row-major [count, DIM]. */
function mixture(rng: Rng, centres: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count * DIM);
  for (let r = 0; r < count; r++) {
    const c = rng.int(CENTRES);
    for (let j = 0; j < DIM; j++) out[r * DIM + j] = centres[c * DIM + j]! + SPREAD * rng.normal();
  }
  return out;
}

/** p50 and p99 of one top-k search per query (milliseconds), after a warm-up. */
function latency(search: (query: Float32Array) => unknown, queries: Float32Array): Latency {
  const count = queries.length / DIM;
  const query = (i: number) => queries.subarray((i % count) * DIM, ((i % count) + 1) * DIM);
  for (let i = 0; i < WARMUP; i++) search(query(i));
  const times = new Float64Array(QUERIES);
  for (let i = 0; i < QUERIES; i++) {
    const q = query(i);
    const start = performance.now();
    search(q);
    times[i] = performance.now() - start;
  }
  times.sort();
  return { p50: times[Math.floor(QUERIES / 2)]!, p99: times[Math.min(QUERIES - 1, Math.floor(QUERIES * 0.99))]! };
}

function timed<T>(build: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = build();
  return { value, ms: performance.now() - start };
}

function ours(): Case[] {
  const rng = new Rng(SEED);
  const centres = Float32Array.from({ length: CENTRES * DIM }, () => rng.normal());
  const queries = mixture(rng, centres, 1000);
  const recallQueries = queries.subarray(0, RECALL_QUERIES * DIM);
  const cases: Case[] = [];
  const report = (c: Case) => {
    cases.push(c);
    const recall = c.recall ? `, recall@10 ${c.recall.vsInt8.toFixed(3)}` : "";
    console.log(`  ${c.name}: p50 ${c.latency.p50.toFixed(4)} ms${recall}`);
  };
  for (const n of SIZES) {
    const vectors = mixture(rng, centres, n);
    const label = n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`;
    const exact = new Map<Precision, ExactIndex>();
    for (const precision of ["f32", "int8"] as const) {
      const { value: index, ms } = timed(() => new ExactIndex(vectors, DIM, { precision }));
      exact.set(precision, index);
      const latencyMs = latency((q) => index.search(q, K), queries);
      report({
        name: `${label} exact ${precision}`,
        items: n,
        index: `exact ${precision}`,
        buildMs: ms,
        latency: latencyMs,
      });
    }
    const { value: ivf, ms } = timed(() => new IvfIndex(vectors, DIM, { precision: "int8", seed: SEED }));
    report({
      name: `${label} ivf int8 (${ivf.listCount} lists, ${ivf.probes} probes)`,
      items: n,
      index: "ivf int8",
      buildMs: ms,
      latency: latency((q) => ivf.search(q, K), queries),
      recall: {
        vsInt8: measureRecall(ivf, exact.get("int8")!, recallQueries, K),
        vsF32: measureRecall(ivf, exact.get("f32")!, recallQueries, K),
      },
    });
    ivf.dispose();
    for (const index of exact.values()) index.dispose();
  }
  return cases;
}

interface PeerResult {
  peer: string;
  defaultThreads: number;
  /** threads → items → latency (ms). */
  threads: Record<string, Record<string, Latency>>;
  /** Which BLAS torch loaded (added by the bench). */
  blas: TorchBlas;
}

/** The same sizes in PyTorch (run after ours, so the two never compete for the cores). */
function runPeer(): PeerResult | null {
  if (!torchAvailable()) {
    console.log("  PyTorch not installed (apt-get install -y python3-torch): no ratios this run");
    return null;
  }
  console.log("  running the PyTorch peer …");
  const config = { sizes: SIZES, dim: DIM, k: K, queries: QUERIES, warmup: WARMUP, seed: SEED };
  const blas = torchBlas();
  return {
    ...(runPython(join(repoRoot, "bench", "peer", "serve_retrieval_torch.py"), [
      "--config",
      JSON.stringify(config),
    ]) as PeerResult),
    blas,
  };
}

function main(): void {
  console.log(`bench:serve-retrieval — top-${K}, dim ${DIM}, ${QUERIES} queries after ${WARMUP} warm-up\n`);
  const cases = ours();
  const peer = runPeer();
  const threadSettings = peer ? Object.keys(peer.threads).sort((a, b) => Number(a) - Number(b)) : [];
  const threadLabel = (t: string) =>
    Number(t) === peer?.defaultThreads ? `${t} thread(s), default` : `${t} thread(s)`;
  console.log();
  printTable(
    [
      "case (top-10, ms)",
      "p50",
      "p99",
      "recall@10",
      "build s",
      ...threadSettings.flatMap((t) => [`torch ${threadLabel(t)} p50`, "ratio"]),
    ],
    cases.map((c) => [
      c.name,
      c.latency.p50,
      c.latency.p99,
      c.recall ? `${c.recall.vsInt8.toFixed(3)} (f32 ${c.recall.vsF32.toFixed(3)})` : "exact",
      c.buildMs / 1000,
      ...threadSettings.flatMap((t) => {
        const torch = peer!.threads[t]![String(c.items)]!;
        return [torch.p50, `${(c.latency.p50 / torch.p50).toFixed(3)}×`];
      }),
    ]),
  );
  if (peer) console.log(`\npeer: ${peer.peer}; ratio = our p50 / PyTorch's p50 (lower is faster)`);

  const find = (items: number, index: string) => cases.find((c) => c.items === items && c.index === index)!;
  const small = find(100_000, "exact int8");
  const large = find(1_000_000, "ivf int8");
  // The fastest PyTorch setting is the one to beat.
  const torchBest = peer ? Math.min(...threadSettings.map((t) => peer.threads[t]!["100000"]!.p50)) : undefined;
  const targets: Target[] = [
    ...(torchBest === undefined
      ? []
      : [atMost("100k int8 top-10 p50 vs PyTorch", small.latency.p50 / torchBest, 0.5, "ratio")]),
    atMost("100k int8 top-10 p50", small.latency.p50, 0.1, "ms"),
    atMost("1M top-10 p50", large.latency.p50, 1, "ms"),
    atLeast("1M recall@10", large.recall!.vsInt8, 0.95, "recall"),
  ];
  console.log();
  printTable(
    ["target", "measured", "target", "met"],
    targets.map((t) => [t.name, `${t.measured} ${t.unit}`, `${t.target} ${t.unit}`, t.met ? "yes" : "NO"]),
  );
  const path = writeResults(
    "serve-retrieval",
    {
      dim: DIM,
      k: K,
      queries: QUERIES,
      warmup: WARMUP,
      vectors: `Gaussian mixture: ${CENTRES} centres ~ N(0, I), item = centre + N(0, ${SPREAD}² I); queries alike`,
      cases: cases.map((c) => ({
        name: c.name,
        items: c.items,
        index: c.index,
        buildSeconds: round(c.buildMs / 1000),
        p50Ms: round(c.latency.p50),
        p99Ms: round(c.latency.p99),
        ...(c.recall ? { recallAt10: round(c.recall.vsInt8), recallAt10VsF32: round(c.recall.vsF32) } : {}),
      })),
      peer: peer?.peer ?? null,
      pytorchBlas: peer?.blas ?? null,
      pytorchDefaultThreads: peer?.defaultThreads ?? null,
      pytorchMs: peer?.threads ?? null,
    },
    targets,
  );
  console.log(`\nresults: ${path}`);
}

main();
