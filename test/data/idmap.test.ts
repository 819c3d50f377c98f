import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdMap } from "../../src/data/idmap.js";

describe("IdMap", () => {
  test("assigns dense indices in first-seen order and finds them again", () => {
    const map = new IdMap();
    assert.equal(map.add("b"), 0);
    assert.equal(map.add("a"), 1);
    assert.equal(map.add("b"), 0);
    assert.equal(map.size, 2);
    assert.equal(map.get("a"), 1);
    assert.equal(map.get("zzz"), undefined);
    assert.equal(map.external(1), "a");
  });

  test("rejects indices it does not hold", () => {
    const map = new IdMap();
    map.add("x");
    assert.throws(() => map.external(1), /no id at index 1 \(size 1\)/);
    assert.throws(() => map.external(-1), RangeError);
  });

  test("round-trips through JSON text with the same indices", () => {
    const map = new IdMap();
    for (const id of ["42", "007", "7", "ünïcødé", "[UNK]", ""]) map.add(id);
    const restored = IdMap.fromJSON(JSON.parse(JSON.stringify(map)) as string[]);
    assert.equal(restored.size, map.size);
    for (let i = 0; i < map.size; i++) {
      assert.equal(restored.external(i), map.external(i));
      assert.equal(restored.get(map.external(i)), i);
    }
  });

  test("refuses JSON with a duplicate id, which would shift every later index", () => {
    assert.throws(() => IdMap.fromJSON(["a", "b", "a"]), /duplicate id "a"/);
  });
});
