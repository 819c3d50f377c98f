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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "distillrec_" });
  }

  /** Record the version now served (the previous one's gauge goes away). */
  serving(version: string, kind: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version, kind }, 1);
  }
}
