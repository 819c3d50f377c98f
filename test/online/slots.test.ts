import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdSlots, Sightings } from "../../src/online/slots.js";

describe("IdSlots", () => {
  test("new ids take free slots in order; a known id keeps its slot and is not fresh", () => {
    const slots = new IdSlots(3);
    assert.deepEqual(slots.assign("a"), { slot: 0, fresh: true });
    assert.deepEqual(slots.assign("b"), { slot: 1, fresh: true });
    assert.deepEqual(slots.assign("a"), { slot: 0, fresh: false });
    assert.equal(slots.size, 2);
    assert.equal(slots.get("b"), 1);
    assert.equal(slots.get("z"), undefined);
    assert.equal(slots.owner(0), "a");
    assert.equal(slots.owner(2), undefined);
    assert.equal(slots.evictions, 0);
  });

  test("when full, the least recently seen id loses its slot; a touched id survives", () => {
    const slots = new IdSlots(3);
    for (const id of ["a", "b", "c"]) slots.assign(id);
    slots.assign("a"); // recency now b, c, a
    const d = slots.assign("d");
    assert.deepEqual(d, { slot: 1, fresh: true, evicted: "b" });
    assert.equal(slots.get("b"), undefined);
    assert.equal(slots.get("a"), 0);
    assert.equal(slots.owner(1), "d");
    // c is now the stalest; then a (touched before d arrived).
    assert.equal(slots.assign("e").evicted, "c");
    assert.equal(slots.assign("f").evicted, "a");
    assert.equal(slots.size, 3);
    assert.equal(slots.evictions, 3);
    assert.deepEqual(slots.entries(), [
      [0, "f"],
      [1, "d"],
      [2, "e"],
    ]);
  });

  test("get does not touch recency", () => {
    const slots = new IdSlots(2);
    slots.assign("a");
    slots.assign("b");
    assert.equal(slots.get("a"), 0);
    assert.equal(slots.assign("c").evicted, "a");
  });

  test("entries lists occupied slots in slot order, whatever the recency", () => {
    const slots = new IdSlots(4);
    for (const id of ["x", "y", "z"]) slots.assign(id);
    slots.assign("x");
    assert.deepEqual(slots.entries(), [
      [0, "x"],
      [1, "y"],
      [2, "z"],
    ]);
  });

  test("a clone has the same assignments and recency, and goes its own way", () => {
    const slots = new IdSlots(3);
    for (const id of ["a", "b", "c", "a", "d"]) slots.assign(id); // d evicts b
    const copy = slots.clone();
    assert.deepEqual(copy.entries(), slots.entries());
    assert.equal(copy.evictions, slots.evictions);
    assert.equal(copy.capacity, 3);
    // Same recency order: c is the stalest in both.
    assert.equal(copy.assign("e").evicted, "c");
    assert.equal(slots.get("c"), 2, "the original kept c");
    assert.equal(slots.evictions, 1);
    assert.equal(copy.evictions, 2);
    assert.equal(slots.assign("f").evicted, "c");
    assert.equal(copy.get("f"), undefined);
    assert.equal(copy.get("e"), 2);
  });

  test("capacity must be a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new IdSlots(bad), /capacity must be a positive integer/, String(bad));
    }
    assert.equal(new IdSlots(1).capacity, 1);
  });

  test("a single slot is recycled by every new id", () => {
    const slots = new IdSlots(1);
    slots.assign("a");
    assert.deepEqual(slots.assign("b"), { slot: 0, fresh: true, evicted: "a" });
    assert.deepEqual(slots.assign("b"), { slot: 0, fresh: false });
    assert.equal(slots.size, 1);
  });
});

describe("Sightings", () => {
  test("counts each id's sightings, never below the true count, in fixed memory", () => {
    const sightings = new Sightings(1 << 10, 4);
    const truth = new Map<string, number>();
    for (let k = 0; k < 3000; k++) {
      const id = `id-${(k * 7919) % 500}`;
      truth.set(id, (truth.get(id) ?? 0) + 1);
      const estimate = sightings.see(id);
      assert.ok(estimate >= truth.get(id)!, `${id}: ${estimate} < ${truth.get(id)}`);
    }
    // 500 ids over 1 024 counters a row: most estimates are exact.
    let exact = 0;
    const copy = sightings.clone();
    for (const [id, n] of truth) if (copy.see(id) === n + 1) exact++;
    assert.ok(exact > 400, `${exact} of 500 exact`);
  });

  test("old sightings fade: counts halve every 8 x width sightings", () => {
    const sightings = new Sightings(16, 2);
    // The 128th sighting (8 x 16) halves every count: 128 becomes 64.
    for (let k = 0; k < 127; k++) sightings.see("a");
    assert.equal(sightings.see("a"), 128);
    assert.equal(sightings.see("a"), 65);
  });

  test("refuses a width that is not a power of two", () => {
    assert.throws(() => new Sightings(1000), RangeError);
    assert.throws(() => new Sightings(16, 0), RangeError);
  });
});
