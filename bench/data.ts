/**
 * `npm run bench:data` — the data layer at scale: generate a synthetic e-commerce log (10M events by default,
 * BENCH_DATA_EVENTS to change), write it as TSV to a temp dir, load it back with the streaming reader, build the
 * seen-item index and user histories, and load ml-100k when present. Reports rows/s, events/s and peak memory,
 * and writes bench/results/data.json.
 */
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildUserHistories } from "../src/data/history.js";
import { readInteractions } from "../src/data/readers.js";
import { buildUserItemIndex } from "../src/data/sampling.js";
import { generateEcommerce } from "../src/data/synthetic.js";
import { EVENT_TYPES, type Dataset } from "../src/data/types.js";
import { atLeast, printTable, round, writeResults } from "./common.js";

const EVENTS = Number(process.env.BENCH_DATA_EVENTS ?? 10_000_000);
const USERS = Math.max(1000, Math.round(EVENTS / 50));
const ITEMS = Math.max(500, Math.round(EVENTS / 200));
const ML100K = resolve(process.cwd(), "../shared/data/ml-100k/ml-100k.inter");
const LOAD_TARGET_ROWS_PER_SECOND = 1_000_000;

/** Peak resident set and heap seen so far: sampled on a timer during async work and at every phase end. */
const peak = { rss: 0, heapUsed: 0 };
function sampleMemory(): void {
  const { rss, heapUsed } = process.memoryUsage();
  peak.rss = Math.max(peak.rss, rss);
  peak.heapUsed = Math.max(peak.heapUsed, heapUsed);
}

interface Phase {
  name: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  rssMiB: number;
}

const phases: Phase[] = [];

/** Times `run`, records a phase of `rows` rows, and returns what `run` returned. */
async function phase<T>(name: string, rows: number, run: () => T | Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  const seconds = (performance.now() - start) / 1000;
  sampleMemory();
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  phases.push({ name, rows, seconds: round(seconds), rowsPerSecond: round(rows / seconds), rssMiB: round(rssMiB) });
  return result;
}

/** Writes the log as TSV with external ids and event names, in ~4 MB chunks. */
function writeTsv(dataset: Dataset, path: string): void {
  const { users, items, values, timestamps, eventTypes, length } = dataset.interactions;
  const userIds = Array.from({ length: dataset.users.size }, (_, u) => dataset.users.external(u));
  const itemIds = Array.from({ length: dataset.items.size }, (_, i) => dataset.items.external(i));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, "user_id\titem_id\tvalue\ttimestamp\tevent_type\n");
    let chunk = "";
    for (let r = 0; r < length; r++) {
      chunk += `${userIds[users[r]!]}\t${itemIds[items[r]!]}\t${values[r]}\t${timestamps[r]}\t${EVENT_TYPES[eventTypes[r]!]}\n`;
      if (chunk.length > 4 << 20) {
        writeSync(fd, chunk);
        chunk = "";
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

async function main(): Promise<void> {
  const timer = setInterval(sampleMemory, 20);
  const dir = mkdtempSync(join(tmpdir(), "distillrec-bench-data-"));
  try {
    const generated = await phase("generate synthetic", EVENTS, () =>
      generateEcommerce({ users: USERS, items: ITEMS, events: EVENTS, seed: 1 }),
    );
    const tsv = join(dir, "synthetic.tsv");
    await phase("write TSV", EVENTS, () => writeTsv(generated, tsv));
    const fileMiB = statSync(tsv).size / 2 ** 20;

    const loaded = await phase("load TSV (readInteractions)", EVENTS, () =>
      readInteractions(tsv, {
        format: "tsv",
        columns: { user: "user_id", item: "item_id", value: "value", timestamp: "timestamp", eventType: "event_type" },
      }),
    );
    if (loaded.interactions.length !== EVENTS) {
      throw new Error(`loaded ${loaded.interactions.length} rows, wrote ${EVENTS}`);
    }
    await phase("index: seen items (CSR)", EVENTS, () => buildUserItemIndex(loaded.interactions, loaded.users.size));
    await phase("index: user histories", EVENTS, () => buildUserHistories(loaded.interactions, loaded.users.size));

    let ml100k: { rows: number; seconds: number; rowsPerSecond: number } | undefined;
    if (existsSync(ML100K)) {
      const dataset = await phase("load ml-100k (recbole)", 100_000, () => readInteractions(ML100K));
      const last = phases[phases.length - 1]!;
      ml100k = { rows: dataset.interactions.length, seconds: last.seconds, rowsPerSecond: last.rowsPerSecond };
    }

    clearInterval(timer);
    sampleMemory();
    printTable(
      ["phase", "rows", "seconds", "rows/s", "RSS MiB"],
      phases.map((p) => [p.name, p.rows, p.seconds, p.rowsPerSecond, p.rssMiB]),
    );
    const byName = (name: string) => phases.find((p) => p.name === name)!;
    const load = byName("load TSV (readInteractions)");
    const indexing = byName("index: seen items (CSR)").seconds + byName("index: user histories").seconds;
    console.log(
      `\nTSV ${round(fileMiB)} MiB, ${USERS} users × ${ITEMS} items; load + index ${round(EVENTS / (load.seconds + indexing))} rows/s;` +
        ` peak RSS ${round(peak.rss / 2 ** 20)} MiB, peak heap ${round(peak.heapUsed / 2 ** 20)} MiB` +
        (ml100k ? `; ml-100k ${ml100k.rowsPerSecond} rows/s` : "; ml-100k not found"),
    );
    const targets = [atLeast("TSV load rows/s (one core)", load.rowsPerSecond, LOAD_TARGET_ROWS_PER_SECOND, "rows/s")];
    const path = writeResults(
      "data",
      {
        events: EVENTS,
        users: USERS,
        items: ITEMS,
        tsvMiB: round(fileMiB),
        generationEventsPerSecond: byName("generate synthetic").rowsPerSecond,
        tsvLoadRowsPerSecond: load.rowsPerSecond,
        loadAndIndexRowsPerSecond: round(EVENTS / (load.seconds + indexing)),
        peakRssMiB: round(peak.rss / 2 ** 20),
        peakHeapMiB: round(peak.heapUsed / 2 ** 20),
        ml100k: ml100k ?? null,
        phases,
      },
      targets,
    );
    for (const t of targets) console.log(`${t.met ? "met" : "NOT met"}: ${t.name} ${t.measured} (target ${t.target})`);
    console.log(`wrote ${path}`);
  } finally {
    clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
