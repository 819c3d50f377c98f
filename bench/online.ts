// bench:online — a time-ordered dataset replayed as a live stream. A teacher and a distilled student are
// trained on the first part of the timeline; the rest arrives as events, and each event is first ranked
// (its item among 99 sampled items the user has not interacted with) and then learned from. Compared:
// (a) the student as trained, never updated; (b) the student updated online from every batch of events;
// (c) online updates plus re-distillation from a refreshed teacher on a schedule or on drift, through the
// promotion gate. On the synthetic shop with strongly drifting tastes and on MovieLens 100K. Then the
// cost: events learned per second, and a server's request latency while its worker thread learns from a
// steady flow of events, against the same server and flow with learning off.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { readDataset } from "../src/data/readers.js";
import { generateEcommerce } from "../src/data/synthetic.js";
import type { Dataset } from "../src/data/types.js";
import type { MethodWeights } from "../src/run/config.js";
import { datasetFeatures, prepareData } from "../src/run/data.js";
import type { EvaluationSettings } from "../src/run/evaluation.js";
import { softLabelOptions, teacherSoftLabels } from "../src/run/soft-labels.js";
import { trainModel } from "../src/run/training.js";
import { prequential, type PrequentialResult } from "../src/eval/prequential.js";
import { saveArtefact } from "../src/models/artefact.js";
import type { ModelSpec } from "../src/models/index.js";
import { OnlineLoop, type OnlineLoopOptions } from "../src/online/loop.js";
import { OnlineModel, type BaseModel, type LiveEvent } from "../src/online/model.js";
import { numberedStream, splitStream } from "../src/online/stream.js";
import { atLeast, atMost, printTable, repoRoot, round, spawnServer, writeResults, type Target } from "./common.js";

const ML100K = join(repoRoot, "..", "shared", "data", "ml-100k");
const RUNS = join(repoRoot, "runs", "bench-online");
const EVALUATION: EvaluationSettings = { negatives: 99, validationNegatives: 99, ks: [10], fullRanking: false };
const DISTILL: MethodWeights = { hard: 1, listwise: 3, temperature: 1 };
const TOKEN = "bench-online";
const LOAD_SECONDS = 15;
const CONNECTIONS = 8;
/** The event flow during the latency runs: batches of EVENT_BATCH every EVENT_INTERVAL_MS (2 000 events/s). */
const EVENT_BATCH = 100;
const EVENT_INTERVAL_MS = 50;

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
        // Flatter popularity than the default shop's: tastes, and so their drift, decide more of what is bought.
        zipfExponent: 0.5,
      }),
    trainShare: 0.3,
    teacher: { kind: "two-tower", dim: 64, maxHistory: 20, userLayers: [128], itemLayers: [128], seed: 1 },
    student: { kind: "two-tower", dim: 16, maxHistory: 20, seed: 2 },
    window: 5000,
    loop: { redistillEvery: 20_000 },
  },
  {
    name: "ml-100k",
    dataset: async () => readDataset(ML100K),
    trainShare: 0.5,
    teacher: { kind: "two-tower", dim: 64, maxHistory: 30, userLayers: [128], itemLayers: [128], seed: 1 },
    student: { kind: "two-tower", dim: 16, maxHistory: 30, seed: 2 },
    window: 5000,
    loop: { redistillEvery: 10_000 },
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

/** Save the bootstrap models as artefacts (the student's lineage names its teacher, beside it). */
function saveModels(setting: Setting, initial: Dataset, models: { teacher: BaseModel; student: BaseModel }) {
  const dir = join(RUNS, setting.name);
  const features = datasetFeatures(initial);
  const teacher = saveArtefact(join(dir, "teacher"), { ...models.teacher, features, lineage: { role: "teacher" } });
  saveArtefact(join(dir, "student"), {
    ...models.student,
    features,
    lineage: { role: "student", teacher: teacher.id, method: "listwise" },
  });
  return { teacher: join(dir, "teacher"), student: join(dir, "student") };
}

async function runSetting(setting: Setting) {
  console.log(`\n${setting.name}`);
  const dataset = await setting.dataset();
  const { initial, stream } = splitStream(dataset, setting.trainShare);
  console.log(`  ${initial.interactions.length} events to train on, ${stream.length} streamed`);
  const { teacher, student } = await bootstrap(setting, initial);
  const { events, numItems, learner } = numberedStream(stream);
  const options = { numItems, window: setting.window, ks: [10], seed: 1, historyLength: 20 };

  const staticModel = new OnlineModel(student);
  const a = await prequential(
    events,
    learner(
      (u, h, i) => staticModel.score(u, h, i),
      () => {},
    ),
    options,
  );
  const online = new OnlineModel(student);
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
  const loop = new OnlineLoop(new OnlineModel(student), new OnlineModel(teacher), setting.loop, {
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
  const learners = { "(a) static": a, "(b) online": b, "(c) online + re-distillation": c };
  printTable(
    ["learner", "HR@10", "NDCG@10", "NDCG@10 vs (a)"],
    Object.entries(learners).map(([name, r]) => [
      name,
      round(r.overall["HR@10"]!),
      round(r.overall["NDCG@10"]!),
      r === a ? "—" : `${((100 * r.overall["NDCG@10"]!) / a.overall["NDCG@10"]! - 100).toFixed(1)}%`,
    ]),
  );
  console.log("  prequential NDCG@10 per window of events:");
  printTable(
    ["from event", "(a)", "(b)", "(c)"],
    a.windows.map((w, k) => [
      w.start,
      round(w.metrics["NDCG@10"]!),
      round(b.windows[k]!.metrics["NDCG@10"]!),
      round(c.windows[k]!.metrics["NDCG@10"]!),
    ]),
  );
  const throughput = round(online.learned / learnSeconds, 3);
  console.log(
    `  (b) learns ${throughput} events/s (its learn() calls alone); the whole replay took ${round(bSeconds, 3)} s for (b), ${round(cSeconds, 3)} s for (c) (prequential scoring, shadows and re-distillation included)`,
  );
  const summary = (r: PrequentialResult) => ({
    overall: r.overall,
    windows: r.windows.map((w) => ({ start: w.start, events: w.events, ...w.metrics })),
  });
  return {
    trainEvents: initial.interactions.length,
    streamEvents: stream.length,
    static: summary(a),
    online: summary(b),
    redistilled: summary(c),
    decisions: loop.decisions,
    eventsPerSecond: throughput,
    replaySeconds: { online: round(bSeconds, 3), redistilled: round(cSeconds, 3) },
    models: saveModels(setting, initial, { teacher, student }),
    stream,
  };
}

/** A `distillrec serve` child process, with online learning or without. */
async function startServer(model: string, teacher: string, online: boolean) {
  const state = mkdtempSync(join(tmpdir(), "distillrec-bench-online-"));
  const args = ["--model", model, "--state", state, "--port", "0"];
  if (online) args.push("--online", "--teacher", teacher, "--publish-every", "5000", "--redistill-every", "10000");
  const { child, url } = await spawnServer(args, TOKEN);
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** Post the stream's events at a steady rate until `stop`; returns how many were accepted. */
function feed(url: string, stream: readonly LiveEvent[]): { stop: () => Promise<number> } {
  let at = 0;
  let accepted = 0;
  let running = true;
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  const loop = (async () => {
    while (running) {
      const began = performance.now();
      const events = stream.slice(at, at + EVENT_BATCH).map((e) => ({ ...e, type: "click" }));
      at = (at + EVENT_BATCH) % Math.max(1, stream.length - EVENT_BATCH);
      const reply = await fetch(`${url}/v1/events`, { method: "POST", headers, body: JSON.stringify({ events }) });
      if (reply.status !== 200) throw new Error(`events: HTTP ${reply.status}: ${await reply.text()}`);
      accepted += ((await reply.json()) as { accepted: number }).accepted;
      await new Promise((r) => setTimeout(r, Math.max(0, EVENT_INTERVAL_MS - (performance.now() - began))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return accepted;
    },
  };
}

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) if (line.startsWith(name)) total += Number(line.split(" ").pop());
  return total;
}

/**
 * A closed loop of `connections` keep-alive clients asking for recommendations for `seconds`, each request
 * timed on the client in microseconds (a load generator with millisecond buckets cannot tell 2 ms from 2.9).
 */
async function load(url: string, users: readonly string[], connections: number, seconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const { hostname, port } = new URL(url);
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = (path: string) =>
    new Promise<number>((resolve) => {
      const req = request({ host: hostname, port, path, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", () => resolve(0));
      req.end();
    });
  const client = async () => {
    while (performance.now() < end) {
      const user = users[Math.floor(Math.random() * users.length)]!;
      const began = performance.now();
      const status = await one(`/v1/recommend/${encodeURIComponent(user)}?k=10`);
      times.push(performance.now() - began);
      if (status !== 200) errors++;
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  times.sort((x, y) => x - y);
  const at = (q: number) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!, 3);
  return {
    requestsPerSecond: round(times.length / seconds),
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(times[times.length - 1]!, 3) },
    requests: times.length,
    errors,
  };
}

/** Recommendation latency under load with the event flow on, learning or not. */
async function latency(models: { student: string; teacher: string }, stream: readonly LiveEvent[], online: boolean) {
  const server = await startServer(models.student, models.teacher, online);
  try {
    const users = [...new Set(stream.slice(0, 20_000).map((e) => e.user))];
    await load(server.url, users, CONNECTIONS, 2);
    const events = feed(server.url, stream);
    const result = await load(server.url, users, CONNECTIONS, LOAD_SECONDS);
    const accepted = await events.stop();
    return {
      ...result,
      eventsPosted: accepted,
      eventsLearned: await metricValue(server.url, "distillrec_online_events_learned_total"),
      publishes: await metricValue(server.url, 'distillrec_online_publishes_total{reason="incremental",result="ok"}'),
      decisions: await metricValue(server.url, "distillrec_online_decisions_total"),
    };
  } finally {
    await server.stop();
  }
}

async function main() {
  const results: Record<string, unknown> = {};
  const targets: Target[] = [];
  let synthetic: Awaited<ReturnType<typeof runSetting>> | undefined;
  for (const setting of SETTINGS) {
    if (setting.name === "ml-100k" && !existsSync(ML100K)) {
      console.log(`\nml-100k: skipped (${ML100K} is absent)`);
      continue;
    }
    const outcome = await runSetting(setting);
    const { stream, ...kept } = outcome;
    results[setting.name] = kept;
    if (setting.name === "synthetic-drift") synthetic = outcome;
    void stream;
  }
  if (synthetic) {
    const gain = synthetic.redistilled.overall["NDCG@10"]! / synthetic.static.overall["NDCG@10"]! - 1;
    targets.push(
      atLeast("(c) vs (a) prequential NDCG@10, drifting synthetic stream", round(100 * gain, 3), 10, "% relative"),
    );
    console.log(
      `\nrequest latency while learning (${CONNECTIONS} connections, ${LOAD_SECONDS} s, events at ${(1000 / EVENT_INTERVAL_MS) * EVENT_BATCH}/s)`,
    );
    const idle = await latency(synthetic.models, synthetic.stream, false);
    const learning = await latency(synthetic.models, synthetic.stream, true);
    printTable(
      ["server", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "events posted", "learned", "publishes"],
      [
        [
          "learning off",
          idle.requestsPerSecond,
          idle.latencyMs.p50,
          idle.latencyMs.p90,
          idle.latencyMs.p99,
          idle.latencyMs.max,
          idle.errors,
          idle.eventsPosted,
          "-",
          "-",
        ],
        [
          "learning on",
          learning.requestsPerSecond,
          learning.latencyMs.p50,
          learning.latencyMs.p90,
          learning.latencyMs.p99,
          learning.latencyMs.max,
          learning.errors,
          learning.eventsPosted,
          learning.eventsLearned,
          learning.publishes,
        ],
      ],
    );
    results.latency = { connections: CONNECTIONS, seconds: LOAD_SECONDS, idle, learning };
    targets.push(
      atMost(
        "request p99 while learning vs idle",
        round(learning.latencyMs.p99 / Math.max(idle.latencyMs.p99, 1e-9), 3),
        2,
        "×",
      ),
    );
  }
  printTable(
    ["target", "measured", "target", "met"],
    targets.map((t) => [t.name, `${t.measured} ${t.unit}`, `${t.target} ${t.unit}`, t.met ? "yes" : "NO"]),
  );
  console.log(`\nwrote ${writeResults("online", results, targets)}`);
}

await main();
