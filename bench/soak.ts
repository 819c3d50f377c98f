// bench:soak — the service under a long mixed load: a server (a child process, `distillrec serve` on
// 127.0.0.1) over a two-tower model takes 32 connections of recommendations with event batches mixed in
// for 10 minutes (SOAK_SECONDS to change it). Targets: no errors, and the server's resident memory at the
// end within 1.3× of what it was after the first minute (a leak grows it; a warm cache does not).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { atMost, printTable, round, spawnServer, writeResults, printTargets, saveLoadModel } from "./common.js";

const USERS = 20_000;
const ITEMS = 10_000;
const DIM = 32;
const TOKEN = "soak-token";
const CONNECTIONS = 32;
const SECONDS = positiveEnv("SOAK_SECONDS", 600);
/** RSS is compared with its value this far in: a minute, or a third of a shorter run. */
const BASELINE_SECONDS = Math.min(60, SECONDS / 3);
const SAMPLE_MS = 5_000;
const RSS_GROWTH = 1.3;
/** One request in EVENT_SHARE posts a batch of EVENT_BATCH events; the rest ask for recommendations. */
const EVENT_SHARE = 0.1;
const EVENT_BATCH = 10;

function positiveEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number of seconds > 0 (got "${text}")`);
  return value;
}

let counter = 0;
function eventBody(): string {
  const now = Date.now();
  const events = Array.from({ length: EVENT_BATCH }, () => {
    counter++;
    // One user in ten is new: the server's per-user state keeps growing, as it does in production.
    const user = counter % 10 === 0 ? `new${counter}` : `u${counter % USERS}`;
    return { user, item: `i${(counter * 31) % ITEMS}`, type: "click", timestamp: now };
  });
  return JSON.stringify({ events });
}

/** The server's resident set, from its own Prometheus metrics. */
async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^distillrec_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!match) throw new Error("the server's metrics have no distillrec_process_resident_memory_bytes");
  return Number(match[1]);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "distillrec-bench-soak-"));
  try {
    saveLoadModel(join(dir, "model"), { users: USERS, items: ITEMS, dim: DIM });
    const { child, url } = await spawnServer(
      ["--model", join(dir, "model"), "--state", join(dir, "state"), "--host", "127.0.0.1", "--port", "0"],
      TOKEN,
    );
    try {
      const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
      const started = performance.now();
      const samples: { seconds: number; rssBytes: number }[] = [];
      const sampler = setInterval(() => {
        void rss(url).then((bytes) =>
          samples.push({ seconds: round((performance.now() - started) / 1000), rssBytes: bytes }),
        );
      }, SAMPLE_MS);
      let baseline: number | undefined;
      const baselineTimer = setTimeout(
        () => void rss(url).then((bytes) => (baseline = bytes)),
        BASELINE_SECONDS * 1000,
      );
      const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: SECONDS,
        requests: [
          {
            setupRequest: (request) => {
              if (Math.random() < EVENT_SHARE) {
                return { ...request, method: "POST", path: "/v1/events", headers, body: eventBody() };
              }
              const user = Math.floor(Math.random() * USERS * 1.1); // one in eleven is a user the model never saw
              return { ...request, method: "GET", path: `/v1/recommend/u${user}?k=10` };
            },
          },
        ],
      });
      clearInterval(sampler);
      clearTimeout(baselineTimer);
      const end = await rss(url);
      if (baseline === undefined) throw new Error("the run ended before the baseline RSS was taken");
      const errors = result.errors + result.timeouts + result.non2xx;
      const growth = end / baseline;
      const mix =
        `${Math.round((1 - EVENT_SHARE) * 100)}% GET /v1/recommend (k=10), ` +
        `${Math.round(EVENT_SHARE * 100)}% POST /v1/events (${EVENT_BATCH} events)`;
      console.log(`\nsoak: ${SECONDS} s, ${CONNECTIONS} connections; ${mix}`);
      printTable(
        ["requests", "req/s", "p99 ms", "errors", `RSS at ${round(BASELINE_SECONDS)} s MB`, "RSS at end MB"],
        [
          [
            result.requests.total,
            result.requests.average,
            result.latency.p99,
            errors,
            baseline / 2 ** 20,
            end / 2 ** 20,
          ],
        ],
      );
      const targets = [
        atMost("HTTP errors (errors, timeouts, non-2xx)", errors, 0, "requests"),
        atMost(`RSS at the end over RSS at ${round(BASELINE_SECONDS)} s`, growth, RSS_GROWTH, "ratio"),
      ];
      console.log("\ntargets");
      printTargets(targets);
      const path = writeResults(
        "soak",
        {
          seconds: SECONDS,
          connections: CONNECTIONS,
          mix,
          requests: result.requests.total,
          requestsPerSecond: round(result.requests.average),
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
          errors,
          rssBytes: { baseline, end, baselineSeconds: round(BASELINE_SECONDS) },
          samples,
        },
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
