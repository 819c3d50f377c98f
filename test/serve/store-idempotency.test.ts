// Batch ids in the embedded store: a batch appended again with the same id — at once, in the same group of
// writes, or after a restart — is stored once and answered with its first result.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { EventStore, StoreInputError } from "../../src/serve/store.js";

const batch = (user: string) => [
  { user, item: "i1", type: "click", timestamp: 1 },
  { user, item: "i2", type: "click", timestamp: 2 },
];

test("a batch id stores its batch once, across groups of writes and restarts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "distillrec-store-ids-"));
  try {
    let store = EventStore.open(dir);
    const first = await store.append(batch("a"), { id: "k1" });
    // Three at once: written in one group, the repeated id among them counted once.
    const [again, other, twice] = await Promise.all([
      store.append(batch("a"), { id: "k1" }),
      store.append(batch("b"), { id: "k2" }),
      store.append(batch("b"), { id: "k2" }),
    ]);
    assert.deepEqual(again, first);
    assert.deepEqual(twice, other);
    assert.deepEqual(other, { first: 2, count: 2 });
    await store.append(batch("c"));
    await store.append(batch("c"));
    assert.equal(store.count(), 8);
    await store.close();
    store = EventStore.open(dir);
    assert.deepEqual(await store.append(batch("a"), { id: "k1" }), first);
    assert.equal(store.count(), 8);
    assert.deepEqual(
      [...store.events()].map((e) => e.user),
      ["a", "a", "b", "b", "c", "c", "c", "c"],
    );
    await assert.rejects(store.append(batch("d"), { id: "" }), StoreInputError);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
