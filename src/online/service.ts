/**
 * Online learning inside the server, on the request thread's side: it feeds the learner's worker thread
 * the events the store holds (reading them back from the durable log, so a learner that falls behind
 * catches up instead of queueing them in memory, and a restart resumes where the last published student
 * stopped), swaps in every student the worker publishes, and reports every decision in the log and in
 * /metrics. A swap the worker asks for is skipped while another version than the learner's own serves (an
 * operator put it in service, before or after a restart): their choice stands.
 */
import { rmSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { FastifyBaseLogger } from "fastify";
import type { OnlineDecisionPoint, OnlineStatus, OnlineWindow } from "../serve/live.js";
import type { ServeMetrics } from "../serve/metrics.js";
import type { ModelRegistry } from "../serve/registry.js";
import type { Learner } from "../serve/server.js";
import type { FeedbackStore } from "../serve/store.js";
import { publishedDirs } from "./artefacts.js";
import type { FromWorker, OnlineWorkerConfig, ToWorker } from "./worker.js";

export interface OnlineServiceOptions {
  registry: ModelRegistry;
  store: FeedbackStore;
  metrics: ServeMetrics;
  logger?: FastifyBaseLogger;
  /** What the worker runs with; it learns on the first of `studentDirs` that verifies. */
  config: OnlineWorkerConfig;
  /** Published students kept on disk: the newest, and the versions serving and to roll back to besides. */
  keep: number;
  /** Events handed to the worker and not yet learned, at most (default 20 000). */
  maxInFlight?: number;
}

/** Windows and decisions the dashboard's time line keeps. */
const KEPT = 500;

/** Events a quality window holds at least: the worker's batches are merged up to it. */
const WINDOW_EVENTS = 256;

export class OnlineService implements Learner {
  private readonly worker: Worker;
  private nextSeq: number;
  private inFlight = 0;
  private readonly maxInFlight: number;
  /** The learner's own version: the student it started on, then the last it put in service. */
  private expected = "";
  private closed = false;
  private failure: string | undefined;
  private state = "idle";
  private learned = 0;
  private readonly windows: OnlineWindow[] = [];
  private readonly decisions: OnlineDecisionPoint[] = [];
  /** The quality window still filling: events, hits and NDCG summed. */
  private filling = { events: 0, hr: 0, ndcg: 0 };

  private constructor(
    private readonly options: OnlineServiceOptions,
    ready: (message: FromWorker & { type: "ready" }) => void,
    failed: (error: Error) => void,
  ) {
    // A fresh student learns the events stored from now on; a published one resumes after its last (on ready).
    this.nextSeq = options.store.count();
    this.maxInFlight = options.maxInFlight ?? 20_000;
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: { online: options.config } });
    let started = false;
    this.worker.on("message", (message: FromWorker) => {
      if (message.type === "ready") {
        started = true;
        this.expected = message.student.version;
        if (message.student.seq >= 0) this.nextSeq = message.student.seq + 1;
        ready(message);
      } else if (message.type === "error" && !started) {
        // The student or teacher could not be opened: the server must not start half-configured.
        failed(new Error(`online learning cannot start: ${message.message}`));
      } else {
        this.handle(message);
      }
    });
    this.worker.on("error", (err) => {
      this.failure = err.message;
      failed(err);
      this.options.logger?.error({ err }, "online learning stopped: the worker failed");
    });
  }

  /** Start the worker; resolves once it has loaded the student and teacher. */
  static start(options: OnlineServiceOptions): Promise<OnlineService> {
    return new Promise((resolve, reject) => {
      let service: OnlineService | undefined = undefined;
      service = new OnlineService(
        options,
        ({ teacher, student, skipped }) => {
          for (const { dir, reason } of skipped) {
            options.logger?.warn({ dir, reason }, "online student skipped at start: the next one is tried");
          }
          options.logger?.info(
            { student: student.dir, teacher, fromSeq: service!.nextSeq },
            teacher ? "online learning on, with re-distillation" : "online learning on, without a teacher",
          );
          if (options.registry.current.model.version !== student.version) {
            options.logger?.warn(
              { serving: options.registry.current.model.version, student: student.version },
              "another version than the online student serves: its students are not swapped in meanwhile",
            );
          }
          service!.pump();
          resolve(service!);
        },
        reject,
      );
    });
  }

  /** Why learning stopped, if it did. */
  get error(): string | undefined {
    return this.failure;
  }

  /** What online learning has been doing: the latest windows of prequential quality and decisions. */
  status(): OnlineStatus {
    return {
      state: this.state,
      learned: this.learned,
      lag: Math.max(0, this.options.store.count() - this.nextSeq + this.inFlight),
      ...(this.failure === undefined ? {} : { error: this.failure }),
      windows: [...this.windows],
      decisions: [...this.decisions],
    };
  }

  /** New events were stored: hand them to the worker as room allows. */
  notify(): void {
    this.pump();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.postMessage({ type: "close" } satisfies ToWorker);
    const timeout = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timeout);
  }

  private pump(): void {
    if (this.closed || this.failure) return;
    const { store, metrics } = this.options;
    const stored = store.count();
    while (this.inFlight < this.maxInFlight && this.nextSeq < stored) {
      const events: (ToWorker & { type: "events" })["events"] = [];
      const room = Math.min(this.maxInFlight - this.inFlight, 5000);
      for (const e of store.events(this.nextSeq)) {
        events.push({ user: e.user, item: e.item, timestamp: e.timestamp, seq: e.seq });
        if (events.length >= room) break;
      }
      if (events.length === 0) break;
      this.nextSeq = events[events.length - 1]!.seq + 1;
      this.inFlight += events.length;
      this.worker.postMessage({ type: "events", events } satisfies ToWorker);
    }
    metrics.onlineLag.set(stored - this.nextSeq + this.inFlight);
  }

  /**
   * Remove published students but the newest `keep`, and those serving or to roll back to: the version
   * recorded for a restart stays on disk.
   */
  private prune(): void {
    const { registry, config, keep } = this.options;
    const inUse = new Set([registry.current.model.dir, registry.previousDir]);
    const dirs = publishedDirs(config.outDir);
    for (const old of dirs.slice(0, Math.max(0, dirs.length - keep))) {
      if (!inUse.has(old)) rmSync(old, { recursive: true, force: true });
    }
  }

  /** Merge a batch's quality into the filling window; a full window goes on the time line. */
  private addQuality(quality: { events: number; hr: number; ndcg: number }): void {
    const f = this.filling;
    f.events += quality.events;
    f.hr += quality.hr * quality.events;
    f.ndcg += quality.ndcg * quality.events;
    if (f.events < WINDOW_EVENTS) return;
    keep(this.windows, {
      time: Date.now(),
      at: this.learned,
      events: f.events,
      hr: f.hr / f.events,
      ndcg: f.ndcg / f.events,
    });
    this.filling = { events: 0, hr: 0, ndcg: 0 };
  }

  private handle(message: FromWorker): void {
    const { registry, metrics, logger } = this.options;
    switch (message.type) {
      case "learned":
        this.inFlight -= message.events;
        metrics.onlineEventsLearned.inc(message.events);
        metrics.onlineLearnSeconds.observe(message.seconds);
        this.state = message.state;
        this.learned += message.events;
        this.addQuality(message.quality);
        this.pump();
        return;
      case "decision": {
        const { decision } = message;
        metrics.onlineDecisions.inc({ decision: decision.kind });
        if (decision.serving !== undefined) metrics.onlineNdcg.set({ model: "serving" }, decision.serving);
        if (decision.other !== undefined) metrics.onlineNdcg.set({ model: "other" }, decision.other);
        logger?.info({ decision: decision.kind, at: decision.at, reason: decision.reason }, "online decision");
        keep(this.decisions, {
          time: Date.now(),
          at: decision.at,
          kind: decision.kind,
          reason: decision.reason,
          ...(decision.serving === undefined ? {} : { serving: decision.serving }),
          ...(decision.other === undefined ? {} : { other: decision.other }),
        });
        return;
      }
      case "publish": {
        const current = registry.current.model.version;
        if (current !== this.expected) {
          metrics.onlinePublishes.inc({ reason: message.reason, result: "skipped" });
          logger?.warn(
            { serving: current, published: message.dir },
            "online student not swapped in: an operator put another version in service",
          );
          this.prune();
          return;
        }
        try {
          const { from, to } = registry.swap(message.dir);
          this.expected = to;
          metrics.onlinePublishes.inc({ reason: message.reason, result: "ok" });
          metrics.swaps.inc({ action: "online", result: "ok" });
          logger?.info({ from, to, reason: message.reason, seq: message.seq }, "online student swapped in");
        } catch (err) {
          metrics.onlinePublishes.inc({ reason: message.reason, result: "refused" });
          metrics.swaps.inc({ action: "online", result: "refused" });
          logger?.error({ err, dir: message.dir }, "online student refused");
        }
        this.prune();
        return;
      }
      case "error":
        this.failure = message.message;
        logger?.error({ error: message.message }, "online learning stopped: the worker failed");
        return;
      case "closed":
      case "ready":
        return;
    }
  }
}

/** Append to a bounded time line, dropping the oldest. */
function keep<T>(list: T[], entry: T): void {
  list.push(entry);
  if (list.length > KEPT) list.shift();
}
