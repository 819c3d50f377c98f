/**
 * The server's Prometheus metrics, on a registry of their own (not prom-client's global one), so that
 * several servers in one process — tests, benchmarks — never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class ServeMetrics {
  readonly registry = new Registry();
  /** A metric's name, help and labels, registered on this registry alone. */
  private readonly metric = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => ({
    name,
    help,
    labelNames,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    ...this.metric("distillrec_http_request_duration_seconds", "HTTP request latency by route, method and status", [
      "method",
      "route",
      "status",
    ]),
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
  });
  readonly retrievalSeconds = new Histogram({
    ...this.metric(
      "distillrec_retrieval_duration_seconds",
      "Time to encode the user and select the top items, per recommendation",
    ),
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05],
  });
  readonly eventsIngested = new Counter(
    this.metric("distillrec_events_ingested_total", "Feedback events stored durably and applied to user states"),
  );
  readonly itemsUpserted = new Counter(
    this.metric("distillrec_items_upserted_total", "Catalogue items added or updated at run time"),
  );
  readonly fallbacks = new Counter(
    this.metric(
      "distillrec_fallback_recommendations_total",
      "Recommendations answered from popularity (users with no history)",
    ),
  );
  readonly modelInfo = new Gauge(
    this.metric("distillrec_model_info", "The model version being served (value 1)", ["version", "kind"]),
  );
  readonly swaps = new Counter(
    this.metric("distillrec_model_swaps_total", "Model swaps and rollbacks by outcome", ["action", "result"]),
  );

  readonly onlineEventsLearned = new Counter(
    this.metric("distillrec_online_events_learned_total", "Events the online learner has learned from"),
  );
  readonly onlineLearnSeconds = new Histogram({
    ...this.metric(
      "distillrec_online_learn_duration_seconds",
      "Time the online learner's worker took per batch of events (evaluation, updates, re-distillation)",
    ),
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  });
  readonly onlineDecisions = new Counter(
    this.metric(
      "distillrec_online_decisions_total",
      "Online learning decisions: redistill, promote, discard, rollback, confirm",
      ["decision"],
    ),
  );
  readonly onlineNdcg = new Gauge(
    this.metric(
      "distillrec_online_ndcg_at_10",
      "Prequential NDCG@10 on live events behind the last decision: the serving student and the other model",
      ["model"],
    ),
  );
  readonly onlinePublishes = new Counter(
    this.metric(
      "distillrec_online_publishes_total",
      "Students the online learner published, by reason and whether they were swapped in",
      ["reason", "result"],
    ),
  );
  readonly onlineLag = new Gauge(
    this.metric("distillrec_online_lag_events", "Stored events the online learner has not learned from yet"),
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "distillrec_" });
  }

  /** Record the version now served (the previous one's gauge goes away). */
  serving(version: string, kind: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version, kind }, 1);
  }
}
