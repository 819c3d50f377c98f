import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OnlineModel, type BaseModel, type LiveEvent } from "../../src/online/model.js";
import { distilCandidate, recentUsers, refreshTeacher, teacherLists } from "../../src/online/redistill.js";
import { habitEvents, listKL, plantedBase, snapshot, userId } from "../helpers/online.js";

const adam = (lr: number) => ({ optimizer: "adam" as const, lr });

let teacherBase: BaseModel | undefined;
let studentBase: BaseModel | undefined;

/** A trained teacher, with some live events behind it (new items among them). */
function teacher(): OnlineModel {
  teacherBase ??= plantedBase({ kind: "two-tower", dim: 8, maxHistory: 4, seed: 3 });
  const t = new OnlineModel(teacherBase, {
    itemSlots: 4,
    optimizer: adam(0.01),
    // The new items take slots at their first event.
    admitAfter: 1,
    seed: 1,
  });
  t.learn([
    ...habitEvents(100, 30),
    { user: "u2", item: "new-1", timestamp: 1e6 },
    { user: "u3", item: "new-2", timestamp: 1e6 + 1 },
  ]);
  return t;
}

/** An untrained student of another seed over the same ids. */
function student(): OnlineModel {
  studentBase ??= plantedBase({ kind: "two-tower", dim: 8, maxHistory: 4, seed: 9 }, 0);
  return new OnlineModel(studentBase, {
    optimizer: adam(0.02),
    seed: 2,
  });
}

/** Each list's scores by `model` (with the lists' histories), row-major like lists.logits. */
function scoresOf(model: OnlineModel, lists: ReturnType<typeof teacherLists>): Float32Array {
  const out = new Float32Array(lists.users.length * lists.length);
  lists.users.forEach((u, r) => {
    const items = lists.items.slice(r * lists.length, (r + 1) * lists.length);
    out.set(model.score(u, lists.histories[r]!, items), r * lists.length);
  });
  return out;
}

/** Mean share of the teacher's top `k` of each list (its first k items) that `scores` also ranks top k. */
function topOverlap(scores: Float32Array, length: number, k: number): number {
  const rows = scores.length / length;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const order = Array.from({ length }, (_, j) => j).sort((a, b) => scores[r * length + b]! - scores[r * length + a]!);
    total += order.slice(0, k).filter((j) => j < k).length / k;
  }
  return total / rows;
}

describe("teacherLists", () => {
  test("the teacher's top unseen items first, then sampled ones, with the teacher's logits", () => {
    const t = teacher();
    const users = ["u0", "u2", "u3", "u41", "never-seen"];
    const k = 5;
    const lists = teacherLists(t, users, { topK: k, negatives: 7, seed: 4 });
    assert.equal(lists.length, k + 7);
    assert.deepEqual(lists.users, users);
    assert.equal(lists.items.length, users.length * lists.length);
    assert.equal(lists.logits.length, users.length * lists.length);
    const n = t.activeItems;
    const catalogue = t.scoreCatalogue(
      users,
      users.map((u) => t.recentItems(u)),
    );
    let historyWouldLead = 0;
    users.forEach((u, r) => {
      const history = t.recentItems(u);
      assert.deepEqual(lists.histories[r], history);
      const items = lists.items.slice(r * lists.length, (r + 1) * lists.length);
      assert.equal(new Set(items).size, items.length, `${u}: an item twice`);
      const top = items.slice(0, k);
      for (const item of top) assert.ok(!history.includes(item), `${u}: ${item} is in the recent items`);
      // They are the best-scored items outside the history, best first.
      const scores = catalogue.subarray(r * n, (r + 1) * n);
      const unseen = Array.from({ length: n }, (_, row) => row)
        .filter((row) => !history.includes(t.itemId(row)))
        .sort((a, b) => scores[b]! - scores[a]! || a - b);
      assert.deepEqual(
        top,
        unseen.slice(0, k).map((row) => t.itemId(row)),
        u,
      );
      const best = Array.from({ length: n }, (_, row) => row).sort((a, b) => scores[b]! - scores[a]!);
      if (best.slice(0, k).some((row) => history.includes(t.itemId(row)))) historyWouldLead++;
      // The logits are the teacher's scores of the list.
      const logits = lists.logits.subarray(r * lists.length, (r + 1) * lists.length);
      const expected = t.score(u, history, items);
      logits.forEach((l, j) => assert.ok(Math.abs(l - expected[j]!) <= 1e-5 * Math.max(1, Math.abs(l)), `${u}[${j}]`));
    });
    // Without leaving the recent items out, some users' lists would have started with them.
    assert.ok(historyWouldLead > 0);
  });

  test("lists are cut to the items in use; every list then holds each of them once", () => {
    const t = teacher();
    const n = t.activeItems;
    const lists = teacherLists(t, ["u1", "u2"], { topK: 10, negatives: 1000 });
    assert.equal(lists.length, n);
    for (let r = 0; r < 2; r++) {
      const items = new Set(lists.items.slice(r * n, (r + 1) * n));
      assert.equal(items.size, n);
      assert.ok(items.has("new-1") && items.has("new-2"));
    }
  });

  test("recentUsers: distinct users of the events, most recent first, at most max", () => {
    const events: LiveEvent[] = ["a", "b", "a", "c", "b"].map((user, k) => ({ user, item: "x", timestamp: k }));
    assert.deepEqual(recentUsers(events, 10), ["b", "c", "a"]);
    assert.deepEqual(recentUsers(events, 2), ["b", "c"]);
    assert.deepEqual(recentUsers([], 5), []);
  });

  test("refreshTeacher: the teacher learns the events, then rehearses its past", () => {
    const t = teacher();
    const before = snapshot(t.model);
    const learned = t.learned;
    refreshTeacher(t, habitEvents(50, 31, 1), 3);
    assert.equal(t.learned, learned + 50);
    assert.notDeepEqual(snapshot(t.model), before);
  });
});

describe("distilCandidate", () => {
  test("a distilled copy agrees better with the teacher's lists; the serving student is left as it was", () => {
    const t = teacher();
    const s = student();
    const users = Array.from({ length: 40 }, (_, u) => userId(u));
    const lists = teacherLists(t, users, { topK: 5, negatives: 15, seed: 1 });
    const studentBefore = snapshot(s.model);
    const recent = habitEvents(200, 32);
    const klBefore = listKL(lists.logits, scoresOf(s, lists), lists.length);
    const overlapBefore = topOverlap(scoresOf(s, lists), lists.length, 5);
    const { candidate, loss } = distilCandidate(s, lists, recent, { epochs: 6, batchUsers: 16, seed: 3 });
    assert.notEqual(candidate, s);
    assert.notEqual(candidate.model, s.model);
    assert.ok(Number.isFinite(loss) && loss > 0);
    assert.deepEqual(snapshot(s.model), studentBefore);
    const klAfter = listKL(lists.logits, scoresOf(candidate, lists), lists.length);
    const overlapAfter = topOverlap(scoresOf(candidate, lists), lists.length, 5);
    assert.ok(klAfter < 0.7 * klBefore, `KL ${klBefore} → ${klAfter}`);
    assert.ok(overlapAfter > overlapBefore, `top-5 overlap ${overlapBefore} → ${overlapAfter}`);
    // The candidate carries the student's ids and recent items on.
    assert.deepEqual(candidate.recentItems("u1"), s.recentItems("u1"));
    assert.equal(candidate.learned, s.learned);
  });

  test("no lists and no events: an unchanged copy", () => {
    const s = student();
    const empty = teacherLists(teacher(), [], {});
    const { candidate, loss } = distilCandidate(s, empty, [], {});
    assert.equal(loss, 0);
    assert.deepEqual(snapshot(candidate.model), snapshot(s.model));
  });
});
