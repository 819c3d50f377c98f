import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { prequential, type StreamEvent, type StreamLearner } from "../../src/eval/prequential.js";

const ITEMS = 200;

/** Users 0..19, each repeatedly buying from a small personal set of items (user·7 + j) % ITEMS, j < 3. */
function habitStream(events: number): StreamEvent[] {
  return Array.from({ length: events }, (_, e) => {
    const user = e % 20;
    return { user, item: (user * 7 + (e % 3)) % ITEMS, timestamp: 1000 * e };
  });
}

/** Scores an item by how often it saw the user take it: it can only know what it was taught. */
class Memory implements StreamLearner {
  readonly counts = new Map<string, number>();
  readonly learnt = new Set<number>();
  score(user: number, _history: Int32Array, items: Int32Array): Float32Array {
    return Float32Array.from(items, (i) => this.counts.get(`${user}:${i}`) ?? 0);
  }
  learn(events: readonly StreamEvent[]): void {
    for (const e of events) this.counts.set(`${e.user}:${e.item}`, (this.counts.get(`${e.user}:${e.item}`) ?? 0) + 1);
  }
}

describe("prequential evaluation", () => {
  test("a learner that learns overtakes itself as the stream goes on; one that never learns stays at chance", async () => {
    const stream = habitStream(3000);
    const learning = await prequential(stream, new Memory(), { numItems: ITEMS, window: 500, batch: 50, seed: 1 });
    const frozen = new Memory();
    const still = await prequential(
      stream,
      { score: (u, h, i) => frozen.score(u, h, i), learn: () => {} },
      {
        numItems: ITEMS,
        window: 500,
        seed: 1,
      },
    );
    assert.equal(learning.windows.length, 6);
    assert.ok(learning.windows[0]!.metrics["HR@10"]! < learning.windows[5]!.metrics["HR@10"]!);
    assert.ok(learning.windows[5]!.metrics["NDCG@10"]! > 0.9);
    // Every score ties: the item ranks in the middle of 100 candidates, never in the top 10.
    assert.equal(still.overall["HR@10"], 0);
  });

  test("an event is scored before the learner sees it, and learning comes in batches in stream order", async () => {
    const stream = habitStream(250);
    const seenBeforeScoring: boolean[] = [];
    const batches: number[] = [];
    let taught: StreamEvent[] = [];
    const learner: StreamLearner = {
      score(user, _history, items) {
        seenBeforeScoring.push(taught.some((e) => e === stream[seenBeforeScoring.length]));
        return new Float32Array(items.length).fill(user);
      },
      learn(events) {
        batches.push(events.length);
        taught = [...taught, ...events];
      },
    };
    await prequential(stream, learner, { numItems: ITEMS, batch: 100 });
    assert.ok(seenBeforeScoring.every((seen) => !seen));
    assert.deepEqual(batches, [100, 100, 50]);
    assert.deepEqual(taught, stream);
  });

  test("candidates exclude the user's earlier items; windows cover the stream; disorder is refused", async () => {
    const stream = habitStream(95);
    const learner: StreamLearner = {
      score(user, history, items) {
        for (const item of items.subarray(1)) assert.ok(!history.includes(item), `user ${user} already has ${item}`);
        return new Float32Array(items.length);
      },
      learn() {},
    };
    const result = await prequential(stream, learner, { numItems: ITEMS, window: 40 });
    assert.deepEqual(
      result.windows.map((w) => [w.start, w.events, w.from, w.to]),
      [
        [0, 40, 0, 39_000],
        [40, 40, 40_000, 79_000],
        [80, 15, 80_000, 94_000],
      ],
    );
    const shuffled = [stream[1]!, stream[0]!];
    await assert.rejects(
      prequential(shuffled, learner, { numItems: ITEMS }),
      /event 1 is older than the one before it/,
    );
  });
});
