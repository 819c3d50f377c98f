// bench:serve — the recommendation service under load. The in-process retrieval figures (top-10 over 100k
// and 1M items, fp32 and int8, beside PyTorch) come from bench/serve-retrieval.ts, run first; then a
// server (a child process: `distillrec serve`) over a two-tower model with 20 000 items (dim 32, int8
// retrieval) takes an autocannon load of recommendations with some event batches mixed in, on the same two
// cores as the load generator; then batches of 1 000 events are posted as fast as they are acknowledged.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import {
  atLeast,
  atMost,
  printTable,
  repoRoot,
  round,
  spawnServer,
  writeResults,
  type Target,
  printTargets,
  saveLoadModel,
} from "./common.js";

const USERS = 50_000;
const ITEMS = 20_000;
const DIM = 32;
const TOKEN = "bench-token";
const LOAD_SECONDS = 15;
/**
 * Concurrent connections of the measured run (closed loop: each sends its next request when answered),
 * and of a run at saturation. An open loop at a fixed rate is not used: autocannon releases rate-limited
 * requests in bursts, which measures its own timer more than the server.
 */
const CONNECTIONS = 8;
const SATURATION_CONNECTIONS = 64;
/** One request in EVENT_SHARE posts a batch of EVENT_BATCH events; the rest ask for recommendations. */
const EVENT_SHARE = 0.1;
const EVENT_BATCH = 10;
const INGEST_BATCH = 1_000;
const INGEST_SECONDS = 10;

function startServer(model: string, state: string): Promise<{ child: ChildProcess; url: string }> {
  return spawnServer(["--model", model, "--state", state, "--port", "0"], TOKEN);
}

let counter = 0;
function eventBody(batch: number): string {
  const now = Date.now();
  const events = Array.from({ length: batch }, () => {
    counter++;
    return { user: `u${counter % USERS}`, item: `i${(counter * 31) % ITEMS}`, type: "click", timestamp: now };
  });
  return JSON.stringify({ events });
}

async function load(url: string, connections: number): Promise<autocannon.Result> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  return autocannon({
    url,
    connections,
    duration: LOAD_SECONDS,
    requests: [
      {
        setupRequest: (request) => {
          if (Math.random() < EVENT_SHARE) {
            return { ...request, method: "POST", path: "/v1/events", headers, body: eventBody(EVENT_BATCH) };
          }
          const user = Math.floor(Math.random() * USERS * 1.1); // one in eleven is a user the model never saw
          return { ...request, method: "GET", path: `/v1/recommend/u${user}?k=10` };
        },
      },
    ],
  });
}

async function ingest(url: string): Promise<{ events: number; seconds: number }> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  const started = performance.now();
  let events = 0;
  // Two batches in flight: one being committed while the next is parsed.
  const worker = async () => {
    while (performance.now() - started < INGEST_SECONDS * 1000) {
      const response = await fetch(`${url}/v1/events`, { method: "POST", headers, body: eventBody(INGEST_BATCH) });
      if (response.status !== 200) throw new Error(`ingest: HTTP ${response.status}: ${await response.text()}`);
      events += ((await response.json()) as { accepted: number }).accepted;
    }
  };
  await Promise.all([worker(), worker()]);
  return { events, seconds: (performance.now() - started) / 1000 };
}

interface LoadSummary {
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  requests: number;
  errors: number;
}

function summary(result: autocannon.Result): LoadSummary {
  const { p50, p90, p99, max } = result.latency;
  return {
    requestsPerSecond: round(result.requests.average),
    latencyMs: { p50, p90, p99, max },
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

function row(name: string, s: LoadSummary): (string | number)[] {
  const { p50, p90, p99, max } = s.latencyMs;
  return [name, s.requestsPerSecond, p50, p90, p99, max, s.requests, s.errors];
}

async function main(): Promise<void> {
  const retrievalPath = join(repoRoot, "bench", "results", "serve-retrieval.json");
  const dir = mkdtempSync(join(tmpdir(), "distillrec-bench-serve-"));
  try {
    saveLoadModel(join(dir, "model"), { users: USERS, items: ITEMS, dim: DIM });
    const { child, url } = await startServer(join(dir, "model"), join(dir, "state"));
    try {
      // Warm-up: JIT and the first allocations.
      await autocannon({ url: `${url}/v1/recommend/u1`, connections: 4, duration: 3 });
      const measured = summary(await load(url, CONNECTIONS));
      const saturated = summary(await load(url, SATURATION_CONNECTIONS));
      const ingested = await ingest(url);
      const ingestRate = ingested.events / ingested.seconds;
      const mix =
        `${Math.round((1 - EVENT_SHARE) * 100)}% GET /v1/recommend (k=10), ` +
        `${Math.round(EVENT_SHARE * 100)}% POST /v1/events (${EVENT_BATCH} events)`;
      const http = {
        mix,
        seconds: LOAD_SECONDS,
        measured: { connections: CONNECTIONS, ...measured },
        saturated: { connections: SATURATION_CONNECTIONS, ...saturated },
      };
      console.log(
        `\nHTTP load: ${USERS} users, ${ITEMS} items, dim ${DIM}, int8 retrieval; ${mix}; ${CONNECTIONS} connections`,
      );
      printTable(
        ["run", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "requests", "errors"],
        [row(`${CONNECTIONS} connections`, measured), row(`${SATURATION_CONNECTIONS} connections`, saturated)],
      );
      console.log(
        `\ningest: ${round(ingestRate)} events/s durable (batches of ${INGEST_BATCH}, ${ingested.events} events)`,
      );
      const retrieval = existsSync(retrievalPath)
        ? (JSON.parse(readFileSync(retrievalPath, "utf8")) as { results: unknown; targets: Target[] })
        : undefined;
      const targets: Target[] = [
        ...(retrieval?.targets ?? []),
        atLeast(
          `HTTP requests/s, ${CONNECTIONS} connections (load generator on the same 2 cores)`,
          measured.requestsPerSecond,
          3000,
          "req/s",
        ),
        atMost(`HTTP p99 latency, ${CONNECTIONS} connections`, measured.latencyMs.p99, 10, "ms"),
        atMost("HTTP errors (both runs)", measured.errors + saturated.errors, 0, "requests"),
        atLeast("durable event ingest (batches of 1 000)", ingestRate, 50_000, "events/s"),
      ];
      console.log("\ntargets");
      printTargets(targets);
      const path = writeResults(
        "serve",
        { retrieval: retrieval?.results ?? null, http, ingest: { eventsPerSecond: round(ingestRate), ...ingested } },
        targets,
      );
      console.log(`written to ${path}`);
    } finally {
      child.kill("SIGTERM");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
