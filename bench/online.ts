// bench:online — a time-ordered dataset replayed as a live stream. A teacher and a distilled student are
// trained on the first part of the timeline; the rest arrives as events, and each event is first ranked
// (its item among 99 sampled items the user has not interacted with) and then learned from. Compared:
// (a) the student as trained, never updated; (b) the student updated online from every batch of events;
// (c) online updates plus re-distillation from a refreshed teacher on a schedule or on drift, through the
// promotion gate. On MovieLens 100K and on the synthetic shop with strongly drifting tastes. Then the
// cost: events learned per second, and a server's request latency while its worker thread learns, against
// the same server idle.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readDataset } from "../src/data/readers.js";
import { generateEcommerce } from "../src/data/synthetic.js";
import type { Dataset } from "../src/data/types.js";
import { IdMap } from "../src/data/idmap.js";
import type { MethodWeights } from "../src/distill/config.js";
import {
  prepareData,
  softLabelOptions,
  teacherSoftLabels,
  trainModel,
  type EvaluationSettings,
} from "../src/distill/pipeline.js";
import { prequential, type PrequentialResult, type StreamLearner } from "../src/eval/prequential.js";
import type { ModelSpec } from "../src/models/index.js";
import { OnlineLoop, type OnlineLoopOptions } from "../src/online/loop.js";
import { OnlineModel, type BaseModel, type LiveEvent } from "../src/online/model.js";
import { splitStream } from "../src/online/stream.js";
import { atLeast, printTable, repoRoot, round, writeResults, type Target } from "./common.js";

export const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");
const EVALUATION: EvaluationSettings = { negatives: 99, validationNegatives: 99, ks: [10], fullRanking: false };
const ONLINE = {
  optimizer: { optimizer: "adam" as const, lr: Number(process.env.LR ?? 0.002) },
  replayRatio: Number(process.env.REPLAY ?? 1),
};
const DISTILL: MethodWeights = { hard: 1, listwise: 3, temperature: 1 };

interface Setting {
  name: string;
  dataset: () => Promise<Dataset>;
  /** Share of the timeline the models are first trained on. */
  trainShare: number;
  teacher: ModelSpec;
  student: ModelSpec;
  window: number;
  loop: OnlineLoopOptions;
}

const SETTINGS: Setting[] = [
  {
    name: "synthetic-drift",
    dataset: async () =>
      generateEcommerce({
        users: 3000,
        items: 1500,
        events: 150_000,
        drift: 1,
        seed: 7,
        days: 120,
        zipfExponent: Number(process.env.ZIPF ?? 1),
      }),
    trainShare: 0.3,
    teacher: { kind: "two-tower", dim: 64, maxHistory: 20, userLayers: [128], itemLayers: [128], seed: 1 },
    student: { kind: "two-tower", dim: 16, maxHistory: 20, seed: 2 },
    window: 5000,
    loop: { redistillEvery: 20_000 },
  },
];

async function bootstrap(setting: Setting, initial: Dataset): Promise<{ teacher: BaseModel; student: BaseModel }> {
  const prepared = prepareData(initial);
  const common = { seed: 0, evaluation: EVALUATION, threads: 1 };
  const train = { epochs: 15, batchSize: 512, lr: 0.002, optimizer: "adam" as const, patience: 3 };
  const teacher = await trainModel(prepared, setting.teacher, train, { ...common, name: "teacher" });
  const labels = teacherSoftLabels(
    teacher.model,
    softLabelOptions(prepared, { negatives: 100, topK: 20, positivesPerUser: 1 }, { seed: 0 }),
  );
  const student = await trainModel(
    prepared,
    setting.student,
    { ...train, epochs: 30, lr: 0.003, patience: 5 },
    { ...common, name: "student", weights: DISTILL, softLabels: labels },
  );
  console.log(
    `  teacher valid NDCG@10 ${round(teacher.bestMetrics["NDCG@10"] ?? 0)}, student ${round(student.bestMetrics["NDCG@10"] ?? 0)}`,
  );
  return {
    teacher: { model: teacher.model, users: initial.users, items: initial.items },
    student: { model: student.model, users: initial.users, items: initial.items },
  };
}

/** The stream numbered for prequential evaluation (its own id maps) and a learner adapter over external ids. */
function numbered(stream: readonly LiveEvent[]) {
  const users = new IdMap();
  const items = new IdMap();
  const events = stream.map((e) => ({ user: users.add(e.user), item: items.add(e.item), timestamp: e.timestamp }));
  const learner = (
    score: (user: string, history: string[], items: string[]) => Float32Array,
    learn: (events: LiveEvent[]) => void,
  ): StreamLearner => ({
    score: (user, history, candidates) =>
      score(
        users.external(user),
        Array.from(history, (i) => items.external(i)),
        Array.from(candidates, (i) => items.external(i)),
      ),
    learn: (batch) =>
      learn(batch.map((e) => ({ user: users.external(e.user), item: items.external(e.item), timestamp: e.timestamp }))),
  });
  return { events, numItems: items.size, learner };
}

async function runSetting(setting: Setting) {
  console.log(`\n${setting.name}`);
  const dataset = await setting.dataset();
  const { initial, stream } = splitStream(dataset, setting.trainShare);
  console.log(`  ${initial.interactions.length} events to train on, ${stream.length} streamed`);
  const { teacher, student } = await bootstrap(setting, initial);
  const { events, numItems, learner } = numbered(stream);
  const options = { numItems, window: setting.window, ks: [10], seed: 1, historyLength: 20 };

  const staticModel = new OnlineModel(student, ONLINE);
  const a = await prequential(
    events,
    learner(
      (u, h, i) => staticModel.score(u, h, i),
      () => {},
    ),
    options,
  );
  const online = new OnlineModel(student, ONLINE);
  let learnSeconds = 0;
  let began = performance.now();
  const b = await prequential(
    events,
    learner(
      (u, h, i) => online.score(u, h, i),
      (batch) => {
        const t = performance.now();
        online.learn(batch);
        learnSeconds += (performance.now() - t) / 1000;
      },
    ),
    options,
  );
  const bSeconds = (performance.now() - began) / 1000;
  const loop = new OnlineLoop(new OnlineModel(student, ONLINE), new OnlineModel(teacher, ONLINE), setting.loop, {
    onDecision: (d) => console.log(`  [${d.at}] ${d.kind}: ${d.reason}`),
  });
  began = performance.now();
  const c = await prequential(
    events,
    learner(
      (u, h, i) => loop.serving.score(u, h, i),
      (batch) => loop.learn(batch),
    ),
    options,
  );
  const cSeconds = (performance.now() - began) / 1000;
  const rows = (name: string, r: PrequentialResult) => [name, round(r.overall["HR@10"]!), round(r.overall["NDCG@10"]!)];
  printTable(
    ["learner", "HR@10", "NDCG@10"],
    [rows("(a) static", a), rows("(b) online", b), rows("(c) online + re-distil", c)],
  );
  printTable(
    ["window", "(a)", "(b)", "(c)"],
    a.windows.map((w, k) => [
      w.start,
      round(w.metrics["NDCG@10"]!),
      round(b.windows[k]!.metrics["NDCG@10"]!),
      round(c.windows[k]!.metrics["NDCG@10"]!),
    ]),
  );
  console.log(
    `  online learning ${round(online.learned / learnSeconds)} events/s; (b) took ${round(bSeconds)} s, (c) ${round(cSeconds)} s; student ${round(loop.eventsPerSecond)} events/s`,
  );
  return { a, b, c, decisions: loop.decisions };
}

async function main() {
  const results: Record<string, unknown> = {};
  const targets: Target[] = [];
  for (const setting of SETTINGS) {
    results[setting.name] = await runSetting(setting);
  }
  writeResults("online", results, targets);
}

void existsSync;
void readDataset;
void atLeast;
await main();
