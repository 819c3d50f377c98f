import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserItemIndex } from "../../src/data/sampling.js";
import { createModel } from "../../src/models/index.js";
import {
  KIND_NEGATIVE,
  KIND_OBSERVED,
  KIND_TOP_K,
  generateSoftLabels,
  sigmoidProbabilities,
  softLabelRowIndex,
  softmaxProbabilities,
  teacherProbabilities,
  topUnseen,
  type SoftLabels,
} from "../../src/distill/soft-labels.js";
import {
  SoftLabelFileError,
  decodeSoftLabels,
  encodeSoftLabels,
  loadOrGenerate,
  loadSoftLabels,
  modelFingerprint,
  saveSoftLabels,
  softLabelsFingerprint,
} from "../../src/distill/soft-label-cache.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-soft-labels-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const numItems = 20;
const context = { numUsers: 6, numItems };
// User 4 has one train item (fewer than P = 2), user 5 none.
const seenLists = [[0, 3, 7], [1, 2], [5, 6, 8, 19], [10, 11, 12, 13, 14], [9], []];
const offsets = new Int32Array(seenLists.length + 1);
seenLists.forEach((l, u) => (offsets[u + 1] = offsets[u]! + l.length));
const seen = new UserItemIndex(offsets, Int32Array.from(seenLists.flat()));
const users = new Int32Array([0, 1, 2, 3, 4, 5]);
const options = { users, seen, positivesPerUser: 2, topK: 4, negatives: 5, seed: 3, numItems };

function teacher() {
  return createModel({ kind: "bpr-mf", dim: 4, seed: 1, initStd: 0.5 }, context);
}

function assertSameLabels(a: SoftLabels, b: SoftLabels): void {
  assert.deepEqual([a.listLength, a.positives, a.topK, a.negatives], [b.listLength, b.positives, b.topK, b.negatives]);
  for (const key of ["users", "items", "teacherScores", "kinds", "topKItems"] as const) {
    assert.deepEqual(
      Buffer.from(a[key].buffer, a[key].byteOffset, a[key].byteLength),
      Buffer.from(b[key].buffer, b[key].byteOffset, b[key].byteLength),
      key,
    );
  }
  assert.deepEqual(Object.keys(a.taskScores ?? {}), Object.keys(b.taskScores ?? {}));
  for (const [name, values] of Object.entries(a.taskScores ?? {})) {
    assert.deepEqual(
      Buffer.from(values.buffer, values.byteOffset, values.byteLength),
      Buffer.from(b.taskScores![name]!.buffer),
    );
  }
}

describe("generateSoftLabels", () => {
  const model = teacher();
  const labels = generateSoftLabels(model, options);
  const L = labels.listLength;
  const row = (r: number): number[] => Array.from(labels.items.subarray(r * L, (r + 1) * L));

  test("lists are [observed P | top-K | negatives N] with matching kinds", () => {
    assert.equal(L, 2 + 4 + 5);
    assert.deepEqual(Array.from(labels.users), Array.from(users));
    for (let r = 0; r < users.length; r++) {
      const kinds = Array.from(labels.kinds.subarray(r * L, (r + 1) * L));
      const observed = r === 5 ? KIND_NEGATIVE : KIND_OBSERVED;
      assert.deepEqual(kinds, [observed, observed, ...Array(4).fill(KIND_TOP_K), ...Array(5).fill(KIND_NEGATIVE)]);
      const items = row(r);
      if (r < 5)
        for (const i of items.slice(0, 2)) assert.ok(seenLists[r]!.includes(i), `user ${r}: ${i} not observed`);
    }
    // Distinct observed items when the user has enough; the single item repeated otherwise.
    for (let r = 0; r < 4; r++) assert.notEqual(row(r)[0], row(r)[1]);
    assert.deepEqual(row(4).slice(0, 2), [9, 9]);
  });

  test("the top-K slice holds the highest-scored unseen items, in order, and equals topKItems", () => {
    const scorer = model.scorer();
    for (let r = 0; r < users.length; r++) {
      const all = scorer.scoreAll({ user: r });
      const expected = Array.from({ length: numItems }, (_, i) => i)
        .filter((i) => !seenLists[r]!.includes(i))
        .sort((a, b) => all[b]! - all[a]! || a - b)
        .slice(0, 4);
      assert.deepEqual(row(r).slice(2, 6), expected, `user ${r}`);
      assert.deepEqual(Array.from(labels.topKItems.subarray(r * 4, r * 4 + 4)), expected);
    }
  });

  test("negatives (and fillers) are distinct, unseen and outside the top-K", () => {
    for (let r = 0; r < users.length; r++) {
      const items = row(r);
      const unobserved = r === 5 ? items : items.slice(2);
      assert.equal(new Set(unobserved).size, unobserved.length, `user ${r}: duplicates in ${unobserved}`);
      for (const i of unobserved) assert.ok(!seenLists[r]!.includes(i), `user ${r}: seen item ${i}`);
    }
  });

  test("teacher scores are the scorer's scores for the list items", () => {
    const scorer = model.scorer();
    for (let r = 0; r < users.length; r++) {
      const expected = scorer.scoreCandidates({ user: r }, labels.items.subarray(r * L, (r + 1) * L));
      assert.deepEqual(Array.from(labels.teacherScores.subarray(r * L, (r + 1) * L)), Array.from(expected));
    }
  });

  test("is deterministic for a seed; tasks: true records the main head's logits", () => {
    const again = generateSoftLabels(model, { ...options, tasks: true });
    assert.deepEqual(Array.from(again.items), Array.from(labels.items));
    assert.deepEqual(Object.keys(again.taskScores!), ["main"]);
    again.taskScores!.main!.forEach((v, i) => assert.ok(Math.abs(v - labels.teacherScores[i]!) < 1e-5));
  });

  test('"recent" takes the latest distinct train items of the history', () => {
    const histories = { offsets: new Int32Array([0, 5, 5, 5, 5, 5, 5]), items: new Int32Array([3, 0, 7, 7, 4]) };
    // Item 4 is not a train item of user 0 and is skipped; 7 is repeated and counted once.
    const recent = generateSoftLabels(model, {
      ...options,
      users: new Int32Array([0]),
      positiveSelection: "recent",
      histories,
    });
    assert.deepEqual(Array.from(recent.items.subarray(0, 2)), [7, 0]);
    assert.throws(() => generateSoftLabels(model, { ...options, positiveSelection: "recent" }), /needs histories/);
  });

  test("refuses users with too few unseen items, by user", () => {
    assert.throws(() => generateSoftLabels(model, { ...options, negatives: 12 }), /user 3 has 15 unseen items/);
    assert.throws(() => generateSoftLabels(model, { ...options, topK: 17, negatives: 0 }), /fewer than topK = 17/);
  });

  test("row index maps users to rows", () => {
    const index = softLabelRowIndex({ ...labels, users: new Int32Array([4, 1]) }, 6);
    assert.deepEqual(Array.from(index), [-1, 1, -1, -1, 0, -1]);
  });
});

describe("topUnseen", () => {
  test("breaks ties by item id, ranks NaN last and skips seen items", () => {
    const scores = new Float32Array([1, 5, NaN, 5, 2, 9, 5]);
    assert.deepEqual(Array.from(topUnseen(scores, 7, new Int32Array([5]), 4)), [1, 3, 6, 4]);
    assert.deepEqual(Array.from(topUnseen(scores, 7, new Int32Array([]), 7)), [5, 1, 3, 6, 4, 0, 2]);
  });
});

describe("teacher probabilities", () => {
  test("pointwise sigmoid(s/T) and listwise softmax(s/T) per row", () => {
    const s = new Float32Array([2, -1, 0, 4, 4, 1]);
    const p = sigmoidProbabilities(s, 2);
    s.forEach((x, i) => assert.ok(Math.abs(p[i]! - 1 / (1 + Math.exp(-x / 2))) < 1e-7));
    const q = softmaxProbabilities(s, 3, 2);
    for (let r = 0; r < 2; r++) {
      const z = [0, 1, 2].reduce((a, j) => a + Math.exp(s[r * 3 + j]! / 2), 0);
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(q[r * 3 + j]! - Math.exp(s[r * 3 + j]! / 2) / z) < 1e-7);
    }
    const labels = { teacherScores: s, listLength: 3 } as SoftLabels;
    assert.deepEqual(teacherProbabilities(labels, 2, "listwise"), q);
    assert.deepEqual(teacherProbabilities(labels, 2, "pointwise"), p);
    assert.throws(() => softmaxProbabilities(s, 4), /rows of 4/);
    assert.throws(() => sigmoidProbabilities(s, 0), /temperature/);
  });
});

describe("soft-label cache files", () => {
  const labels = generateSoftLabels(teacher(), { ...options, tasks: true });
  const meta = { teacher: "bpr-mf:abc", seed: 3, dataset: "tiny" };

  test("save → load round trip is bit-exact, with metadata and a documented layout", () => {
    const path = join(dir, "round.soft");
    saveSoftLabels(path, labels, meta);
    assert.ok(!existsSync(`${path}.tmp`));
    const loaded = loadSoftLabels(path);
    assertSameLabels(loaded.labels, labels);
    assert.deepEqual(loaded.meta, meta);
    const buf = readFileSync(path);
    assert.equal(buf.subarray(0, 8).toString("latin1"), "DRECSOFT");
    assert.equal(buf.readUInt32LE(8), 1);
    const header = JSON.parse(buf.subarray(16, 16 + buf.readUInt32LE(12)).toString("utf8"));
    assert.equal(header.rows, 6);
    assert.deepEqual(
      header.arrays.map((a: { name: string; dtype: string }) => `${a.name}:${a.dtype}`),
      ["users:i32", "items:i32", "teacherScores:f32", "kinds:u8", "topKItems:i32", "task:main:f32"],
    );
    for (const a of header.arrays) assert.equal(a.offset % 64, 0);
  });

  test("a corrupted byte, a truncation, a wrong magic or an empty file is refused, naming the file", () => {
    const good = encodeSoftLabels(labels, meta);
    const cases: [string, Buffer, RegExp][] = [
      [
        "flipped.soft",
        Buffer.from(good).fill(0x55, good.length - 40, good.length - 39),
        /corrupted: checksum mismatch/,
      ],
      ["header-flip.soft", Buffer.from(good).fill(0x7b, 20, 21), /corrupted: checksum mismatch/],
      ["short.soft", good.subarray(0, good.length - 100), /truncated/],
      ["stub.soft", good.subarray(0, 10), /truncated/],
      ["magic.soft", Buffer.concat([Buffer.from("DRECPARM"), good.subarray(8)]), /not a distillrec soft-label file/],
      ["empty.soft", Buffer.alloc(0), /truncated: the file is empty/],
      ["trailing.soft", Buffer.concat([good, Buffer.alloc(3)]), /unexpected trailing data|checksum/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      assert.throws(
        () => loadSoftLabels(path),
        (err: unknown) =>
          err instanceof SoftLabelFileError && pattern.test(err.message) && err.message.startsWith(path),
        name,
      );
    }
    assert.doesNotThrow(() => decodeSoftLabels(good));
  });

  test("fingerprints ignore key order and see every value; the model fingerprint tracks parameters", () => {
    assert.equal(softLabelsFingerprint({ a: 1, b: { c: [1, 2] } }), softLabelsFingerprint({ b: { c: [1, 2] }, a: 1 }));
    assert.notEqual(
      softLabelsFingerprint({ a: 1, b: { c: [1, 2] } }),
      softLabelsFingerprint({ a: 1, b: { c: [2, 1] } }),
    );
    const model = teacher();
    const before = modelFingerprint(model);
    assert.equal(modelFingerprint(teacher()), before);
    model.parameters()[0]!.data[3]! += 1e-3;
    assert.notEqual(modelFingerprint(model), before);
  });

  test("loadOrGenerate reuses a matching cache and regenerates a missing, stale or broken one", () => {
    const path = join(dir, "cache.soft");
    let calls = 0;
    const generate = (): SoftLabels => {
      calls++;
      return labels;
    };
    const first = loadOrGenerate(path, meta, generate);
    assert.deepEqual([first.cached, first.reason, calls], [false, "missing", 1]);
    const second = loadOrGenerate(path, { dataset: "tiny", seed: 3, teacher: "bpr-mf:abc" }, generate);
    assert.deepEqual([second.cached, calls], [true, 1]);
    assertSameLabels(second.labels, labels);
    const stale = loadOrGenerate(path, { ...meta, seed: 4 }, generate);
    assert.deepEqual([stale.cached, stale.reason, calls], [false, "stale", 2]);
    writeFileSync(path, readFileSync(path).subarray(0, 50));
    const broken = loadOrGenerate(path, meta, generate);
    assert.equal(broken.cached, false);
    assert.match(broken.reason!, /truncated/);
    assert.equal(loadOrGenerate(path, meta, generate).cached, true);
  });
});
