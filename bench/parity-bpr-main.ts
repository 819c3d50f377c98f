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
const { runs, targets, peer } = await bprParity(ML100K);
printTable(
  ["d", "weight decay", "distillrec NDCG@10", "HR@10", "best epoch", "PyTorch NDCG@10", "HR@10", "best epoch"],
  runs.map((r) => [
    r.dim,
    r.weightDecay,
    round(r.distillrec.NDCG10),
    round(r.distillrec.HR10),
    r.distillrec.bestEpoch,
    r.pytorch ? round(r.pytorch.NDCG10) : "—",
    r.pytorch ? round(r.pytorch.HR10) : "—",
    r.pytorch?.bestEpoch ?? "—",
  ]),
);
const all = [overhead.target, ...targets];
printTargets(all);
console.log(writeResults("parity-bpr", { runs, peer, epochOverhead: overhead }, all));
