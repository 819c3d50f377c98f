// Runs the BPR-MF half of bench:parity on its own (npm run bench:parity-bpr), writing bench/results/parity-bpr.json.
// PARITY_BPR_PART=overhead measures the epoch overhead alone (a few seconds), into parity-bpr-overhead.json.
import { join } from "node:path";
import { bprParity, epochOverhead } from "./parity-bpr.js";
import { printTable, repoRoot, round, writeResults, printTargets } from "./common.js";

const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");

const overhead = await epochOverhead();
console.log(
  `epoch on 25k items: training ${round(overhead.trainSeconds, 3)} s, wall ${round(overhead.wallSeconds, 3)} s (${round(overhead.ratio, 3)}×)`,
);
if (process.env.PARITY_BPR_PART === "overhead") {
  printTargets([overhead.target]);
  console.log(writeResults("parity-bpr-overhead", { epochOverhead: overhead }, [overhead.target]));
  process.exit(0);
}
const { runs, settings, targets, peer } = await bprParity(ML100K);
const perSeed = (dim: number, wd: number, side: "distillrec" | "pytorch") =>
  runs
    .filter((r) => r.dim === dim && r.weightDecay === wd)
    .map((r) => (r[side] ? `${round(r[side].NDCG10, 3)}@${r[side].bestEpoch}` : "—"))
    .join(" ");
const ms = (x: { mean: number; sd: number } | undefined) => (x ? `${round(x.mean)} ± ${round(x.sd)}` : "—");
printTable(
  [
    "d",
    "weight decay",
    "distillrec NDCG@10",
    "per seed @ best epoch",
    "PyTorch NDCG@10",
    "per seed @ best epoch",
    "ratio",
  ],
  settings.map((s) => [
    s.dim,
    s.weightDecay,
    ms(s.distillrec),
    perSeed(s.dim, s.weightDecay, "distillrec"),
    ms(s.pytorch),
    perSeed(s.dim, s.weightDecay, "pytorch"),
    s.pytorch ? round(s.distillrec.mean / s.pytorch.mean, 3) : "—",
  ]),
);
const all = [overhead.target, ...targets];
printTargets(all);
console.log(writeResults("parity-bpr", { settings, runs, peer, epochOverhead: overhead }, all));
