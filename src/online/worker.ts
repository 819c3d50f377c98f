/**
 * The online learner's thread inside `distillrec serve`. It holds the online loop (student, teacher,
 * gate), takes the events the server stored, learns from them in batches, and whenever another student
 * should serve — a promotion, a rollback, or every `publishEvery` events of incremental learning — saves it
 * as an artefact and tells the server, which swaps it in. Everything costly happens here, off the thread
 * that answers requests.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { openOnline, publishedName, saveOnline } from "./artefacts.js";
import { LOOP_DEFAULTS, OnlineLoop, type Decision, type OnlineLoopOptions } from "./loop.js";
import type { LiveEvent, OnlineModel, OnlineModelOptions } from "./model.js";

/** What the server starts the worker with. */
export interface OnlineWorkerConfig {
  /** The student to learn on: the first of these artefacts that verifies (the rest are skipped, with why). */
  studentDirs: string[];
  /** The teacher artefact (false: none; undefined: the one beside the student, if any). */
  teacherDir: string | false | undefined;
  /** Where published students are written (one directory each). */
  outDir: string;
  /** Publish the incrementally updated student every this many events (0: only on promotion or rollback). */
  publishEvery: number;
  /** Learn once a batch of the loop's events waits, or `flushMs` after the first one arrived. */
  flushMs: number;
  model: OnlineModelOptions;
  loop: OnlineLoopOptions;
}

/** Server → worker. */
export type ToWorker = { type: "events"; events: (LiveEvent & { seq: number })[] } | { type: "close" };

/** Worker → server. */
export type FromWorker =
  | {
      type: "ready";
      teacher: string | null;
      /** The student learned on, its version, and the last event it learned (-1: none, a fresh student). */
      student: { dir: string; version: string; seq: number };
      skipped: { dir: string; reason: string }[];
    }
  | { type: "publish"; dir: string; reason: string; seq: number }
  | { type: "decision"; decision: Decision }
  | {
      type: "learned";
      events: number;
      seconds: number;
      seq: number;
      state: string;
      eventsPerSecond: number;
      /** The serving student's prequential quality on these events (ranked before it learned them). */
      quality: { events: number; hr: number; ndcg: number };
    }
  | { type: "error"; message: string }
  | { type: "closed" };

function post(message: FromWorker): void {
  parentPort!.postMessage(message);
}

function run(config: OnlineWorkerConfig): void {
  const skipped: { dir: string; reason: string }[] = [];
  const opened = openOnline(config.studentDirs, config.teacherDir, config.model, (dir, reason) =>
    skipped.push({ dir, reason }),
  );
  mkdirSync(config.outDir, { recursive: true });
  // A student this learner published knows the stored events up to its onlineSeq; any other starts afresh.
  const learnedSeq = opened.artefact.manifest.lineage.onlineSeq;
  const own = resolve(dirname(opened.studentDir)) === resolve(config.outDir);
  let lastSeq = own && typeof learnedSeq === "number" ? learnedSeq : -1;
  let published = 0;
  let sincePublish = 0;
  const publish = (student: OnlineModel, reason: string) => {
    const dir = join(config.outDir, publishedName(Date.now(), published++));
    saveOnline(dir, student, opened.artefact, { onlineSeq: lastSeq, onlineReason: reason });
    sincePublish = 0;
    post({ type: "publish", dir, reason, seq: lastSeq });
  };
  const loop = new OnlineLoop(opened.student, opened.teacher, config.loop, {
    onDecision: (decision) => post({ type: "decision", decision }),
    onServe: (student, decision) => publish(student, decision.kind),
  });
  post({
    type: "ready",
    teacher: opened.teacherDir ?? null,
    student: { dir: opened.studentDir, version: opened.artefact.manifest.id, seq: lastSeq },
    skipped,
  });

  const batch = config.loop.batch ?? LOOP_DEFAULTS.batch;
  let pending: (LiveEvent & { seq: number })[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    const began = performance.now();
    try {
      loop.learn(events);
    } catch (err) {
      post({ type: "error", message: (err as Error).stack ?? String(err) });
      return;
    }
    lastSeq = events[events.length - 1]!.seq;
    sincePublish += events.length;
    post({
      type: "learned",
      events: events.length,
      seconds: (performance.now() - began) / 1000,
      seq: lastSeq,
      state: loop.state,
      eventsPerSecond: loop.eventsPerSecond,
      quality: loop.takeQuality(),
    });
    if (config.publishEvery > 0 && sincePublish >= config.publishEvery) publish(loop.serving, "incremental");
  };

  parentPort!.on("message", (message: ToWorker) => {
    if (message.type === "close") {
      if (timer) clearTimeout(timer);
      post({ type: "closed" });
      parentPort!.close();
      return;
    }
    pending.push(...message.events);
    if (pending.length >= batch) flush();
    else timer ??= setTimeout(flush, config.flushMs);
  });
}

if (parentPort && workerData?.online) {
  try {
    run((workerData as { online: OnlineWorkerConfig }).online);
  } catch (err) {
    post({ type: "error", message: (err as Error).message });
    parentPort.close();
  }
}
