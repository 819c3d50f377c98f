// The promotion gate and the rollback watch on uninformative data: a holdout of one user's spam, a flood of
// ids no model knows, an exact tie — none of them promotes or rolls back — while a genuinely better student
// on informative events still is promoted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DataRng } from "../../src/data/rng.js";
import { OnlineLoop, type Decision, type OnlineLoopOptions } from "../../src/online/loop.js";
import { OnlineModel, type BaseModel, type LiveEvent } from "../../src/online/model.js";
import { habitEvents, plantedBase, TWO_TOWER } from "../helpers/online.js";

let planted: BaseModel | undefined;
function student(seed = 1): OnlineModel {
  planted ??= plantedBase(TWO_TOWER);
  return new OnlineModel(planted, { optimizer: { optimizer: "adam", lr: 0.01 }, seed });
}

/** A copy of `model` whose every parameter is noise. */
function broken(model: OnlineModel): OnlineModel {
  const copy = model.clone();
  const rng = new DataRng(99);
  for (const [, param] of copy.model.namedParameters()) {
    for (let k = 0; k < param.data.length; k++) param.data[k] = 2 * rng.normal();
  }
  return copy;
}

function loopOf(serving: OnlineModel, teacher: OnlineModel | null, options: OnlineLoopOptions) {
  const decided: Decision[] = [];
  const loop = new OnlineLoop(
    serving,
    teacher,
    { batch: 100, negatives: 20, drift: false, seed: 1, ...options },
    { onDecision: (d) => decided.push(d) },
  );
  return { loop, decided };
}

/** One user clicking one item over and over. */
const spam = (n: number, from = 0): LiveEvent[] =>
  Array.from({ length: n }, (_, e) => ({ user: "u3", item: "i3", timestamp: (from + e) * 1000 }));

/** Users and items no model has seen, each once. */
const unknownFlood = (n: number, from = 0): LiveEvent[] =>
  Array.from({ length: n }, (_, e) => ({
    user: `flood-user-${from + e}`,
    item: `flood-item-${from + e}`,
    timestamp: (from + e) * 1000,
  }));

const kinds = (decided: Decision[]) => decided.map((d) => [d.kind, d.rule]);
const promotions = (decided: Decision[]) => decided.filter((d) => d.kind === "promote").length;

describe("promotion gate on uninformative data", () => {
  test("a holdout of one user's repeated events promotes nothing, however long it runs", () => {
    for (const candidate of [(s: OnlineModel) => s.clone(), () => student(7)]) {
      const serving = student();
      const { loop, decided } = loopOf(serving, null, { gate: { holdout: 200 } });
      loop.propose(candidate(serving), "spam");
      loop.learn(spam(200));
      assert.equal(decided.length, 0, "too little evidence: the holdout is extended");
      assert.equal(loop.state, "gate");
      loop.learn(spam(600, 200));
      assert.deepEqual(kinds(decided), [["discard", "uninformative"]]);
      const [d] = decided;
      assert.equal(d!.at, 800, "decided when the extended holdout (4 × 200) ran out");
      assert.equal(d!.informative, 0, "the spammer is all of the holdout: a flooder, none of theirs count");
      assert.match(d!.reason, /too little evidence in 800 events: 0 informative events \(need 50\)/);
      assert.equal(loop.serving, serving);
    }
  });

  test("a flood of unknown ids promotes nothing", () => {
    const serving = student();
    const { loop, decided } = loopOf(serving, null, { gate: { holdout: 200 } });
    loop.propose(serving.clone(), "flood");
    loop.learn(unknownFlood(800));
    assert.deepEqual(kinds(decided), [["discard", "uninformative"]]);
    assert.equal(decided[0]!.informative, 0, "no model knew the items: no event is informative");
    assert.equal(loop.serving, serving);
  });

  test("re-distillation during spam and floods promotes nothing", () => {
    const serving = student();
    const { loop, decided } = loopOf(serving, student(2), {
      redistillEvery: 300,
      gate: { holdout: 200 },
      distill: { users: 20, topK: 5, negatives: 10, epochs: 1, teacherRehearsal: 1 },
    });
    for (let round = 0; round < 3; round++) {
      loop.learn(spam(600, 1200 * round));
      loop.learn(unknownFlood(600, 1200 * round + 600));
    }
    assert.ok(decided.filter((d) => d.kind === "redistill").length >= 2, JSON.stringify(kinds(decided)));
    assert.equal(promotions(decided), 0, JSON.stringify(kinds(decided)));
    assert.equal(loop.serving, serving);
  });

  test("an exact tie on informative events is not a promotion", () => {
    const serving = student();
    serving.learn(habitEvents(200, 50), 100);
    const { loop, decided } = loopOf(serving, null, { gate: { holdout: 300 } });
    loop.propose(serving.clone(), "the same model");
    loop.learn(habitEvents(300, 21));
    assert.deepEqual(kinds(decided), [["discard", "tie"]]);
    assert.ok(decided[0]!.informative! >= 250, `informative ${decided[0]!.informative}`);
    assert.match(decided[0]!.reason, /no informative event told the two apart/);
  });

  test("a genuinely better student is promoted on informative events, a flooder among them notwithstanding", () => {
    const good = student();
    const serving = broken(good);
    const { loop, decided } = loopOf(serving, null, { gate: { holdout: 400 } });
    loop.propose(good, "the trained one");
    // Half the holdout is one spammer; the rest is ordinary traffic.
    const ordinary = habitEvents(200, 21);
    const mixed = ordinary.flatMap((e, k) => [e, { ...spam(1)[0]!, timestamp: e.timestamp + k }]);
    loop.learn(mixed);
    assert.deepEqual(kinds(decided), [["promote", "better"]]);
    const [d] = decided;
    assert.equal(d!.window, 400);
    assert.ok(d!.informative! <= 200, "the spammer's events do not count");
    assert.ok(d!.difference! > d!.standardError!, `${d!.difference} vs SE ${d!.standardError}`);
    assert.match(d!.reason, /gain .* > margin/);
    assert.equal(loop.serving, good);
  });

  test("a gain within the noise margin is not a promotion", () => {
    const good = student();
    // The gain that promotes above, held to a margin of 1 000 standard errors.
    const { loop, decided } = loopOf(broken(good), null, { gate: { holdout: 300, standardErrors: 1000 } });
    loop.propose(good, "better, but not by that much");
    loop.learn(habitEvents(300, 21));
    assert.deepEqual(kinds(decided), [["discard", "noise"]]);
    assert.ok(decided[0]!.difference! > 0);
  });
});

describe("rollback watch on uninformative data", () => {
  test("spam during the watch is no evidence: the promoted student stays", () => {
    const good = student();
    const serving = broken(good);
    const { loop, decided } = loopOf(serving, null, { gate: { holdout: 300 }, watch: { window: 200 } });
    loop.propose(good, "the trained one");
    loop.learn(habitEvents(300, 21));
    assert.deepEqual(kinds(decided), [["promote", "better"]]);
    // Gone wrong in service, but only spam arrives: nothing to tell the two apart by.
    const score = good.score.bind(good);
    good.score = (user, history, items) => score(user, history, items).map((v) => -v);
    loop.learn(spam(800, 300));
    assert.deepEqual(kinds(decided), [
      ["promote", "better"],
      ["confirm", "uninformative"],
    ]);
    assert.equal(loop.serving, good);
  });
});
