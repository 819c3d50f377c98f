// The popular list new users get cannot be poisoned: not by one user's flood of clicks, not by an event
// with an absurd or future timestamp — neither when it arrives nor when the stored log is replayed after a
// restart.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DataRng } from "../../src/data/rng.js";
import { ExactIndex } from "../../src/engine/retrieval.js";
import { ModelRegistry } from "../../src/serve/registry.js";
import { Popularity, type ResolvedEvent } from "../../src/serve/state.js";
import type { EventStore, StoredEvent } from "../../src/serve/store.js";
import { ITEMS, saveServingModel } from "../helpers/serving.js";

const hour = 3_600_000;
const day = 24 * hour;
/** The server's clock in these tests: a fixed instant. */
const NOW = Date.UTC(2026, 5, 1);
const clock = () => NOW;

/**
 * A day of ordinary traffic ending at NOW: 300 users, 10 events each, items drawn with Zipf-like weights
 * over `items` items, so the popular top ten is clear.
 */
function ordinary(items = ITEMS, seed = 3): ResolvedEvent[] {
  const rng = new DataRng(seed);
  const weights = Array.from({ length: items }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const draw = () => {
    let r = rng.next() * total;
    for (let i = 0; i < items; i++) if ((r -= weights[i]!) <= 0) return i;
    return items - 1;
  };
  const events: ResolvedEvent[] = [];
  for (let e = 0; e < 3000; e++) {
    events.push({ user: `u${e % 300}`, item: draw(), timestamp: NOW - day + (e * day) / 3000 });
  }
  return events;
}

const fresh = (now = clock) => new Popularity(new Int32Array(ITEMS), { halfLifeMs: day, now });
const top10 = (p: Popularity) => [...p.top(10)];

describe("Popularity against poisoning", () => {
  test("one user's 10 000 clicks on one item do not change the popular top ten", () => {
    const clean = fresh();
    clean.add(ordinary());
    const expected = top10(clean);
    const poisoned = fresh();
    const flood = Array.from({ length: 10_000 }, (_, k) => ({ user: "flooder", item: 37, timestamp: NOW - k }));
    // The flood arrives in the middle of the day's traffic.
    const events = ordinary();
    poisoned.add([...events.slice(0, 1500), ...flood, ...events.slice(1500)]);
    assert.deepEqual(top10(poisoned), expected);
    assert.ok(!top10(poisoned).includes(37));
    // The flooder's 10 000 clicks weigh no more than the per-user cap: 10 events.
    assert.ok(poisoned.score(37) - clean.score(37) <= 10 + 1e-9, `${poisoned.score(37) - clean.score(37)}`);
  });

  test("a flood spread over many items by one user does not change the top ten either", () => {
    const clean = fresh();
    clean.add(ordinary());
    const poisoned = fresh();
    poisoned.add([
      ...ordinary(),
      ...Array.from({ length: 10_000 }, (_, k) => ({ user: "flooder", item: 20 + (k % 20), timestamp: NOW - k })),
    ]);
    assert.deepEqual(top10(poisoned), top10(clean));
  });

  test("an event stamped 1e300, or a year ahead, does not take over, when it arrives nor after a replay", () => {
    const events = ordinary();
    const clean = fresh();
    clean.add(events);
    const expected = top10(clean);
    for (const timestamp of [1e300, NOW + 365 * day, Number.MAX_VALUE]) {
      const log = [...events.slice(0, 2000), { user: "mallory", item: 39, timestamp }, ...events.slice(2000)];
      const live = fresh();
      live.add(log);
      assert.deepEqual(top10(live), expected, `live, timestamp ${timestamp}`);
      // A restart a month later replays the stored log: the clock no longer bounds the outlier, the stream does.
      const replayed = fresh(() => NOW + 30 * day);
      replayed.add(log);
      assert.deepEqual(top10(replayed), expected, `replayed, timestamp ${timestamp}`);
      // The outlier counts as at most two events of the stream's time (a lead of one half-life).
      assert.ok(replayed.score(39) - clean.score(39) <= 2 + 1e-9, `${replayed.score(39)} vs ${clean.score(39)}`);
      // Nor does it decay everything else to nothing.
      assert.ok(replayed.score(expected[0]!) > clean.score(expected[0]!) / 3);
    }
  });

  test("an outlier first in the log counts as of the clock", () => {
    const events = ordinary();
    const clean = fresh();
    clean.add(events);
    const poisoned = fresh();
    poisoned.add([{ user: "mallory", item: 39, timestamp: 1e300 }, ...events]);
    assert.deepEqual(top10(poisoned), top10(clean));
  });

  test("ordinary traffic counts as before: a steady user below the cap, times within the lead", () => {
    const capped = fresh();
    const uncapped = new Popularity(new Int32Array(ITEMS), { halfLifeMs: day, now: clock, maxPerUser: Infinity });
    const events = ordinary();
    capped.add(events);
    uncapped.add(events);
    for (let i = 0; i < ITEMS; i++) assert.ok(Math.abs(capped.score(i) - uncapped.score(i)) < 1e-9, `item ${i}`);
  });

  test("a user's budget comes back as their count decays", () => {
    const p = new Popularity(new Int32Array(2), { halfLifeMs: day, now: clock, maxPerUser: 2 });
    const at = (item: number, timestamp: number) => ({ user: "a", item, timestamp });
    p.add([at(0, NOW - 3 * day), at(0, NOW - 3 * day), at(0, NOW - 3 * day)]);
    assert.equal(p.score(0), 2);
    // Two half-lives on their count is ½: one and a half more events count.
    p.add([at(1, NOW - day), at(1, NOW - day)]);
    assert.ok(Math.abs(p.score(1) - 1.5) < 1e-9, `${p.score(1)}`);
  });

  test("refuses settings out of range", () => {
    const make = (options: object) => () => new Popularity(new Int32Array(1), { halfLifeMs: day, ...options });
    assert.throws(make({ maxSkewMs: -1 }), /maxSkewMs must be a finite number ≥ 0/);
    assert.throws(make({ maxLeadMs: Number.NaN }), /maxLeadMs must be a finite number ≥ 0/);
    assert.throws(make({ maxPerUser: 0 }), /maxPerUser must be a number > 0/);
  });
});

describe("the registry's popular list after a restart", () => {
  const root = mkdtempSync(join(tmpdir(), "distillrec-popularity-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  test("replaying a stored log with a 1e300 event and a flood gives the clean log's popular list", () => {
    const dir = join(root, "model");
    saveServingModel(dir, 1);
    const now = Date.now();
    const events = (poisoned: boolean): StoredEvent[] => {
      const rng = new DataRng(8);
      const out: Omit<StoredEvent, "seq">[] = [];
      for (let e = 0; e < 2000; e++) {
        // Items 0–9 are everyone's favourites.
        const item = rng.next() < 0.7 ? rng.int(10) : 10 + rng.int(ITEMS - 10);
        out.push({ user: `v${e % 200}`, item: `i${item}`, type: "click", timestamp: now - hour + e * 1000 });
        if (poisoned && e === 1000) out.push({ user: "mallory", item: "i39", type: "click", timestamp: 1e300 });
        if (poisoned && e === 1500) {
          for (let k = 0; k < 10_000; k++) out.push({ user: "flooder", item: "i38", type: "click", timestamp: now });
        }
      }
      return out.map((event, seq) => ({ ...event, seq }));
    };
    const registryOf = (log: StoredEvent[]) =>
      new ModelRegistry(dir, {
        // What a restart reads: the stored log, from the start.
        store: { items: () => [], events: (from = 0) => log.slice(from) } as unknown as EventStore,
        indexFactory: (vectors, dim, precision) => new ExactIndex(vectors, dim, { precision }),
        modelsDir: dirname(dir),
      });
    const clean = registryOf(events(false));
    const poisoned = registryOf(events(true));
    const expected = [...clean.current.popularity.top(10)];
    assert.deepEqual(
      [...expected].sort((a, b) => a - b),
      Array.from({ length: 10 }, (_, i) => i),
    );
    assert.deepEqual([...poisoned.current.popularity.top(10)], expected);
    clean.close();
    poisoned.close();
  });
});
