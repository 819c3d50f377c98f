/**
 * The server's Prometheus metrics, on a registry of their own (not prom-client's global one), so that
 * several servers in one process — tests, benchmarks — never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requestSeconds = new Histogram({
    name: "distillrec_http_request_duration_seconds",
    help: "HTTP request latency by route, method and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly retrievalSeconds = new Histogram({
    name: "distillrec_retrieval_duration_seconds",
    help: "Time to encode the user and select the top items, per recommendation",
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05],
    registers: [this.registry],
  });
  readonly eventsIngested = new Counter({
    name: "distillrec_events_ingested_total",
    help: "Feedback events stored durably and applied to user states",
    registers: [this.registry],
  });
  readonly itemsUpserted = new Counter({
    name: "distillrec_items_upserted_total",
    help: "Catalogue items added or updated at run time",
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: "distillrec_fallback_recommendations_total",
    help: "Recommendations answered from popularity (users with no history)",
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: "distillrec_model_info",
    help: "The model version being served (value 1)",
    labelNames: ["version", "kind"] as const,
    registers: [this.registry],
  });
  readonly swaps = new Counter({
    name: "distillrec_model_swaps_total",
    help: "Model swaps and rollbacks by outcome",
    labelNames: ["action", "result"] as const,
    registers: [this.registry],
  });

  readonly onlineEventsLearned = new Counter({
    name: "distillrec_online_events_learned_total",
    help: "Events the online learner has learned from",
    registers: [this.registry],
  });
  readonly onlineLearnSeconds = new Histogram({
    name: "distillrec_online_learn_duration_seconds",
    help: "Time the online learner's worker took per batch of events (evaluation, updates, re-distillation)",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly onlineDecisions = new Counter({
    name: "distillrec_online_decisions_total",
    help: "Online learning decisions: redistill, promote, discard, rollback, confirm",
    labelNames: ["decision"] as const,
    registers: [this.registry],
  });
  readonly onlineNdcg = new Gauge({
    name: "distillrec_online_ndcg_at_10",
    help: "Prequential NDCG@10 on live events behind the last decision: the serving student and the other model",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly onlinePublishes = new Counter({
    name: "distillrec_online_publishes_total",
    help: "Students the online learner published, by reason and whether they were swapped in",
    labelNames: ["reason", "result"] as const,
    registers: [this.registry],
  });
  readonly onlineLag = new Gauge({
    name: "distillrec_online_lag_events",
    help: "Stored events the online learner has not learned from yet",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "distillrec_" });
  }

  /** Record the version now served (the previous one's gauge goes away). */
  serving(version: string, kind: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version, kind }, 1);
  }
}
