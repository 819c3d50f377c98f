// The dashboard's traffic samples: rates per second of the time between ticks, nearest-rank latency
// percentiles, events from the store's growth, a bounded history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { percentile, TrafficRecorder } from "../../src/serve/live.js";

test("traffic: the first tick starts the clock; later ones give rates and percentiles", () => {
  const traffic = new TrafficRecorder(3);
  traffic.request(100);
  assert.equal(traffic.tick(1_000, 10), undefined, "nothing to rate before a start");
  for (let ms = 1; ms <= 100; ms++) traffic.request(ms);
  const sample = traffic.tick(3_000, 30)!;
  assert.deepEqual(sample, { time: 3_000, requestsPerSecond: 50, p50: 50, p95: 95, p99: 99, eventsPerSecond: 10 });
  const idle = traffic.tick(4_000, 30)!;
  assert.deepEqual(idle, { time: 4_000, requestsPerSecond: 0, p50: null, p95: null, p99: null, eventsPerSecond: 0 });
});

test("traffic: keeps the last samples only, and never a negative event rate", () => {
  const traffic = new TrafficRecorder(2);
  traffic.tick(0, 100);
  traffic.tick(1_000, 50);
  traffic.tick(2_000, 60);
  traffic.tick(3_000, 70);
  assert.deepEqual(
    traffic.series().map((s) => [s.time, s.eventsPerSecond]),
    [
      [2_000, 10],
      [3_000, 10],
    ],
  );
  assert.equal(traffic.tick(3_000, 80), undefined, "no time passed: no sample");
});

test("percentile: nearest rank", () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([7], 0.99), 7);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.75), 3);
  assert.equal(percentile([1, 2, 3, 4], 1), 4);
});
