import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  EventStore,
  MAX_ID_BYTES,
  StoreInputError,
  type FeedbackEvent,
  type ItemRecord,
  type StoredEvent,
} from "../../src/serve/store.js";
import { crashBatch } from "./fixtures/events.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let stores = 0;
const freshDir = () => join(root, `store-${stores++}`);

const event = (user: string, item: string, timestamp: number, value?: number): FeedbackEvent =>
  value === undefined ? { user, item, type: "click", timestamp } : { user, item, type: "rating", value, timestamp };

describe("EventStore", () => {
  test("numbers appended events consecutively and returns them in order", async () => {
    const store = EventStore.open(freshDir());
    try {
      const first = [event("u1", "i1", 1000), event("u2", "i2", 1001, 4.5)];
      const second = [event("u1", "i3", 1002)];
      assert.deepEqual(await store.append(first), { first: 0, count: 2 });
      assert.deepEqual(await store.append(second), { first: 2, count: 1 });
      assert.equal(store.count(), 3);
      const expected = [...first, ...second].map((e, seq) => ({ ...e, seq }));
      assert.deepEqual([...store.events()], expected);
      assert.deepEqual([...store.events(2)], expected.slice(2));
      assert.deepEqual([...store.events(3)], []);
    } finally {
      await store.close();
    }
  });

  test("gives concurrent appends disjoint, consecutive ranges in the order they were made", async () => {
    const store = EventStore.open(freshDir());
    try {
      const batches = [1, 2, 3, 4].map((b) => crashBatch(b, b * 10));
      const results = await Promise.all(batches.map((batch) => store.append(batch)));
      assert.deepEqual(results, [
        { first: 0, count: 10 },
        { first: 10, count: 20 },
        { first: 30, count: 30 },
        { first: 60, count: 40 },
      ]);
      const stored = [...store.events()].map(({ seq: _seq, ...e }) => e);
      assert.deepEqual(stored, batches.flat());
    } finally {
      await store.close();
    }
  });

  test("upserts items, the latest record of an id replacing the earlier one", async () => {
    const store = EventStore.open(freshDir());
    try {
      const shoe: ItemRecord = {
        id: "shoe",
        features: { category: "shoes", tags: ["red", "sale"], price: 59.9 },
        updatedAt: 1,
      };
      const hat: ItemRecord = { id: "hat", features: { category: "hats" }, updatedAt: 2 };
      await store.upsertItems([shoe, hat]);
      const newShoe: ItemRecord = { id: "shoe", features: { category: "boots" }, updatedAt: 3 };
      await store.upsertItems([newShoe]);
      assert.deepEqual(store.item("shoe"), newShoe);
      assert.deepEqual(store.item("hat"), hat);
      assert.equal(store.item("scarf"), undefined);
      assert.deepEqual([...store.items()], [hat, newShoe]);
    } finally {
      await store.close();
    }
  });

  test("keeps every event, the numbering and the items across a reopen", async () => {
    const dir = freshDir();
    const before = EventStore.open(dir);
    await before.append([event("u1", "i1", 10), event("u1", "i2", 20, 1)]);
    await before.upsertItems([{ id: "i1", features: { price: 3 }, updatedAt: 5 }]);
    await before.close();

    const store = EventStore.open(dir);
    try {
      assert.equal(store.count(), 2);
      assert.deepEqual(await store.append([event("u2", "i1", 30)]), { first: 2, count: 1 });
      assert.deepEqual(
        [...store.events()].map((e) => [e.seq, e.user, e.item]),
        [
          [0, "u1", "i1"],
          [1, "u1", "i2"],
          [2, "u2", "i1"],
        ],
      );
      assert.deepEqual(store.item("i1"), { id: "i1", features: { price: 3 }, updatedAt: 5 });
    } finally {
      await store.close();
    }
  });

  test("acknowledges appends already made when it closes", async () => {
    const dir = freshDir();
    const store = EventStore.open(dir);
    const acks = [store.append([event("u", "a", 1)]), store.append([event("u", "b", 2)])];
    await store.close();
    assert.deepEqual(await Promise.all(acks), [
      { first: 0, count: 1 },
      { first: 1, count: 1 },
    ]);
    await assert.rejects(store.append([event("u", "c", 3)]), /store is closed/);
    const reopened = EventStore.open(dir);
    assert.equal(reopened.count(), 2);
    await reopened.close();
  });

  test("refuses malformed events and items, naming the field, and stores nothing of the batch", async () => {
    const store = EventStore.open(freshDir());
    try {
      const refused = (events: unknown[], message: RegExp) =>
        assert.rejects(
          store.append(events as FeedbackEvent[]),
          (err: unknown) => err instanceof StoreInputError && message.test(err.message),
        );
      await refused(
        [event("u", "i", 1), event("u", "i", Number.NaN)],
        /events\[1\]\.timestamp must be a finite number .*got NaN/,
      );
      await refused([event("u", "i", -5)], /events\[0\]\.timestamp .*≥ 0 \(got -5\)/);
      await refused([{ ...event("u", "i", 1), timestamp: "yesterday" }], /events\[0\]\.timestamp .*got "yesterday"/);
      await refused([event("", "i", 1)], /events\[0\]\.user must be a non-empty string \(got ""\)/);
      await refused(
        [{ user: "u", type: "click", timestamp: 1 }],
        /events\[0\]\.item must be a non-empty string \(got undefined\)/,
      );
      await refused([{ ...event("u", "i", 1), type: 7 }], /events\[0\]\.type must be a non-empty string \(got 7\)/);
      await refused([event("u", "i", 1, Number.POSITIVE_INFINITY)], /events\[0\]\.value must be a finite number/);
      await refused(
        [event("u".repeat(MAX_ID_BYTES + 1), "i", 1)],
        new RegExp(`events\\[0\\]\\.user is longer than ${MAX_ID_BYTES} bytes`),
      );
      await refused([null], /events\[0\] must be an object/);
      assert.equal(store.count(), 0);
      assert.deepEqual([...store.events()], []);

      const refusedItems = (items: unknown[], message: RegExp) =>
        assert.rejects(
          store.upsertItems(items as ItemRecord[]),
          (err: unknown) => err instanceof StoreInputError && message.test(err.message),
        );
      await refusedItems([{ id: "", features: {}, updatedAt: 1 }], /items\[0\]\.id must be a non-empty string/);
      await refusedItems(
        [{ id: "a", features: [], updatedAt: 1 }],
        /items\[0\]\.features must be an object \(got an array\)/,
      );
      await refusedItems(
        [{ id: "a", features: { tags: ["x", 2] }, updatedAt: 1 }],
        /items\[0\]\.features\.tags must be a string, a finite number or an array of strings/,
      );
      await refusedItems([{ id: "a", features: { price: Number.NaN }, updatedAt: 1 }], /features\.price .*got NaN/);
      await refusedItems([{ id: "a", features: {}, updatedAt: undefined }], /items\[0\]\.updatedAt .*got undefined/);
      assert.deepEqual([...store.items()], []);
      assert.throws(() => [...store.events(-1)], /fromSeq must be an integer ≥ 0 \(got -1\)/);
    } finally {
      await store.close();
    }
  });

  test("after kill -9 mid-ingest, reopens with every acknowledged event, batches whole and in order", async () => {
    const dir = freshDir();
    const batchSize = 200;
    const fixture = fileURLToPath(new URL("./fixtures/append-until-killed.js", import.meta.url));
    const child = spawn(process.execPath, [fixture, dir, String(batchSize)], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );

    const acknowledged: { batch: number; first: number; count: number }[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      const [batch, first, count] = line.split(" ").map(Number);
      acknowledged.push({ batch: batch!, first: first!, count: count! });
      if (acknowledged.length === 30) child.kill("SIGKILL");
    }
    const signal = await exited;
    assert.equal(signal, "SIGKILL", `the writer ended before it was killed: ${stderr}`);
    assert.ok(acknowledged.length >= 30);

    const store = EventStore.open(dir);
    try {
      const lastAcknowledged = Math.max(...acknowledged.map((a) => a.first + a.count - 1));
      assert.ok(
        store.count() >= lastAcknowledged + 1,
        `${store.count()} events stored, ${lastAcknowledged} acknowledged`,
      );
      const stored = [...store.events()];
      assert.deepEqual(
        stored.map((e) => e.seq),
        Array.from({ length: store.count() }, (_, i) => i),
      );
      const strip = (events: StoredEvent[]) => events.map(({ seq: _seq, ...e }) => e);
      for (const { batch, first, count } of acknowledged) {
        assert.deepEqual(strip(stored.slice(first, first + count)), crashBatch(batch, batchSize));
      }
      // Batches committed but not acknowledged before the kill are whole too: every stored event is in one.
      for (let first = 0; first < stored.length; first += batchSize) {
        const batch = Number(stored[first]!.user.slice("batch-".length));
        assert.deepEqual(strip(stored.slice(first, first + batchSize)), crashBatch(batch, batchSize));
      }
      // The counter survived the crash: numbering continues where the stored events end.
      assert.equal((await store.append(crashBatch(-1, 1))).first, stored.length);
    } finally {
      await store.close();
    }
  });
});
