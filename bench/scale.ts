// bench:scale — servers sharing one Redis (docs/DEPLOY.md). A redis-server (appendonly, appendfsync always)
// and `distillrec serve --redis` replicas run as child processes on this machine, over the model of
// bench/serve.ts (two-tower, 50 000 users, 20 000 items, dim 32, int8 retrieval). Measured: one replica,
// then two, under a closed-loop autocannon load (90% recommendations, 10% event batches) spread round-robin
// over the replicas by connection; freshness (an event acknowledged by replica A, then replica B's next
// answer for that user: does it reflect it, and how long from the post to B's answer); event ingest into
// Redis through both replicas; and whether every acknowledged event is in the shared log.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { TestRedis } from "../test/helpers/redis.js";
import {
  atLeast,
  atMost,
  printTable,
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
const LOAD_SECONDS = 10;
/** Connections in all (closed loop), split evenly over the replicas. */
const CONNECTIONS = 16;
const EVENT_SHARE = 0.1;
const EVENT_BATCH = 10;
const FRESHNESS_PROBES = 300;
const INGEST_BATCH = 1_000;
const INGEST_SECONDS = 8;
const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };

let counter = 0;
function eventBody(batch: number): string {
  const now = Date.now();
  const events = Array.from({ length: batch }, () => {
    counter++;
    return { user: `u${counter % USERS}`, item: `i${(counter * 31) % ITEMS}`, type: "click", timestamp: now };
  });
  return JSON.stringify({ events });
}

interface LoadSummary {
  replicas: number;
  connections: number;
  requestsPerSecond: number;
  /** The slowest replica's percentiles. */
  latencyMs: { p50: number; p99: number; max: number };
  requests: number;
  errors: number;
  /** CPU the load generator (this process) used, in cores. */
  generatorCores: number;
}

/** One autocannon per replica, at once: connections round-robin over the replicas. */
async function load(urls: string[], connections: number): Promise<LoadSummary> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url,
        connections: connections / urls.length,
        duration: LOAD_SECONDS,
        requests: [
          {
            setupRequest: (request) => {
              if (Math.random() < EVENT_SHARE) {
                return {
                  ...request,
                  method: "POST",
                  path: "/v1/events",
                  headers: { ...headers },
                  body: eventBody(EVENT_BATCH),
                };
              }
              const user = Math.floor(Math.random() * USERS * 1.1);
              return { ...request, method: "GET", path: `/v1/recommend/u${user}?k=10` };
            },
          },
        ],
      }),
    ),
  );
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  return {
    replicas: urls.length,
    connections,
    requestsPerSecond: round(results.reduce((sum, r) => sum + r.requests.average, 0)),
    latencyMs: {
      p50: Math.max(...results.map((r) => r.latency.p50)),
      p99: Math.max(...results.map((r) => r.latency.p99)),
      max: Math.max(...results.map((r) => r.latency.max)),
    },
    requests: results.reduce((sum, r) => sum + r.requests.total, 0),
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
    generatorCores: round((used.user + used.system) / 1e6 / seconds),
  };
}

async function post(url: string, body: string): Promise<number> {
  const response = await fetch(`${url}/v1/events`, { method: "POST", headers: { ...headers }, body });
  if (response.status !== 200) throw new Error(`POST /v1/events: HTTP ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { accepted: number }).accepted;
}

/**
 * A user nobody has seen clicks an item on one replica; the other replica's next answer for them must be
 * personal (no popularity fallback) and leave the clicked item out (excludeSeen).
 */
async function freshness(a: string, b: string): Promise<{ p50: number; p99: number; max: number; stale: number }> {
  const times: number[] = [];
  let stale = 0;
  for (let k = 0; k < FRESHNESS_PROBES; k++) {
    const [to, from] = k % 2 === 0 ? [a, b] : [b, a];
    const user = `fresh-${k}`;
    const item = `i${(k * 131) % ITEMS}`;
    const started = performance.now();
    await post(to, JSON.stringify({ events: [{ user, item, type: "click", timestamp: Date.now() }] }));
    const answer = (await (await fetch(`${from}/v1/recommend/${user}?k=10`)).json()) as {
      items: { id: string }[];
      fallback?: string;
    };
    times.push(performance.now() - started);
    if (answer.fallback !== undefined || answer.items.some((i) => i.id === item)) stale++;
  }
  times.sort((x, y) => x - y);
  const at = (q: number) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
  return { p50: at(0.5), p99: at(0.99), max: round(times[times.length - 1]!), stale };
}

async function ingest(urls: string[]): Promise<{ events: number; seconds: number }> {
  const started = performance.now();
  let events = 0;
  // Two batches in flight per replica.
  const worker = async (url: string) => {
    while (performance.now() - started < INGEST_SECONDS * 1000) {
      // Awaited first: `events += await …` would add to the count read before the wait, losing the others'.
      const accepted = await post(url, eventBody(INGEST_BATCH));
      events += accepted;
    }
  };
  await Promise.all(urls.flatMap((url) => [worker(url), worker(url)]));
  return { events, seconds: (performance.now() - started) / 1000 };
}

async function eventsIn(url: string): Promise<number> {
  return ((await (await fetch(`${url}/readyz`)).json()) as { events: number }).events;
}

function row(name: string, s: LoadSummary): (string | number)[] {
  return [name, s.requestsPerSecond, s.latencyMs.p50, s.latencyMs.p99, s.latencyMs.max, s.requests, s.errors];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "distillrec-bench-scale-"));
  const redis = await TestRedis.start();
  const children: ChildProcess[] = [];
  try {
    saveLoadModel(join(dir, "model"), { users: USERS, items: ITEMS, dim: DIM });
    const replica = async () => {
      const args = ["--model", join(dir, "model"), "--state", join(dir, "shared"), "--redis", redis.url];
      const server = await spawnServer([...args, "--port", "0"], TOKEN);
      children.push(server.child);
      return server.url;
    };
    const a = await replica();
    const b = await replica();
    // Warm-up: JIT and the first allocations, on both.
    await load([a, b], 4);
    const one = await load([a], CONNECTIONS);
    const two = await load([a, b], CONNECTIONS);
    const fresh = await freshness(a, b);
    const before = await eventsIn(b);
    const ingested = await ingest([a, b]);
    const after = await eventsIn(a);
    const lost = before + ingested.events - after;
    const ingestRate = ingested.events / ingested.seconds;
    const cores = cpus().length;
    // Other work on the machine (the load average over the last minute) takes cores from every figure.
    const load1 = round(loadavg()[0]!);
    const speedup = two.requestsPerSecond / one.requestsPerSecond;
    // Two replicas, Redis and autocannon need more than two cores before a second replica can add capacity.
    const bottleneck =
      cores < 4
        ? `${cores} cores for two replicas, Redis and the load generator (${two.generatorCores} cores): the machine is the bottleneck, not the replicas`
        : two.generatorCores > 0.8
          ? `the load generator used ${two.generatorCores} cores: it is the bottleneck`
          : undefined;

    console.log(
      `\nHTTP load: ${USERS} users, ${ITEMS} items, dim ${DIM}, int8; ${CONNECTIONS} connections; ${cores} cores, load ${load1}`,
    );
    printTable(
      ["run", "req/s", "p50 ms", "p99 ms", "max ms", "requests", "errors"],
      [row("one replica", one), row("two replicas", two)],
    );
    console.log(
      `\nfreshness (A acknowledges, B answers): p50 ${fresh.p50} ms, p99 ${fresh.p99} ms, stale ${fresh.stale}`,
    );
    console.log(`ingest: ${round(ingestRate)} events/s into Redis (batches of ${INGEST_BATCH}), lost ${lost}`);
    if (bottleneck) console.log(`note: ${bottleneck}`);
    const targets: Target[] = [
      atMost("HTTP errors (one and two replicas)", one.errors + two.errors, 0, "requests"),
      atMost("acknowledged events lost", Math.max(0, lost), 0, "events"),
      atMost("events counted twice", Math.max(0, -lost), 0, "events"),
      atMost("stale answers (B's next answer misses A's event)", fresh.stale, 0, "answers"),
      atMost("freshness p99 (post to A, answer from B)", fresh.p99, 50, "ms"),
      atLeast(`two replicas / one replica requests/s${bottleneck ? ` (${bottleneck})` : ""}`, speedup, 1.5, "×"),
      atLeast("event ingest into Redis through two replicas (batches of 1 000)", ingestRate, 50_000, "events/s"),
    ];
    console.log("\ntargets");
    printTargets(targets);
    const path = writeResults(
      "scale",
      {
        machine: { cores, loadAverage1m: load1 },
        redis: "redis-server --appendonly yes --appendfsync always --save ''",
        mix: `${100 - EVENT_SHARE * 100}% GET /v1/recommend (k=10), ${EVENT_SHARE * 100}% POST /v1/events (${EVENT_BATCH} events)`,
        seconds: LOAD_SECONDS,
        one,
        two,
        speedup: round(speedup),
        bottleneck: bottleneck ?? null,
        freshness: { probes: FRESHNESS_PROBES, ...fresh },
        ingest: { eventsPerSecond: round(ingestRate), ...ingested, lost },
      },
      targets,
    );
    console.log(`written to ${path}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
