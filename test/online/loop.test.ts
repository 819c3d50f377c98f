import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DataRng } from "../../src/data/rng.js";
import { OnlineLoop, type Decision, type OnlineLoopOptions } from "../../src/online/loop.js";
import { OnlineModel, type BaseModel } from "../../src/online/model.js";
import { habitEvents, plantedBase, snapshot, TWO_TOWER } from "../helpers/online.js";

let planted: BaseModel | undefined;
/** A student that ranks the planted habits well. */
function student(seed = 1): OnlineModel {
  planted ??= plantedBase(TWO_TOWER);
  return new OnlineModel(planted, { optimizer: { optimizer: "adam", lr: 0.01 }, seed });
}

/** A copy of `model` whose every parameter is noise: it ranks no better than chance. */
function broken(model: OnlineModel): OnlineModel {
  const copy = model.clone();
  const rng = new DataRng(99);
  for (const [, param] of copy.model.namedParameters()) {
    for (let k = 0; k < param.data.length; k++) param.data[k] = 2 * rng.normal();
  }
  return copy;
}

/** A loop over `serving` recording its decisions and every student it put in service. */
function loopOf(serving: OnlineModel, teacher: OnlineModel | null, options: OnlineLoopOptions) {
  const decided: Decision[] = [];
  const served: [OnlineModel, Decision][] = [];
  const loop = new OnlineLoop(
    serving,
    teacher,
    { batch: 100, negatives: 20, drift: false, seed: 1, ...options },
    { onDecision: (d) => decided.push(d), onServe: (s, d) => served.push([s, d]) },
  );
  return { loop, decided, served };
}

const figures = (d: Decision) => [d.other!.toFixed(4), d.serving!.toFixed(4)];

describe("OnlineLoop: promotion gate and rollback", () => {
  test("a broken candidate is discarded, with the NDCG figures; the serving student stays", () => {
    const serving = student();
    const { loop, decided, served } = loopOf(serving, null, { gate: { holdout: 300, tolerance: 0.05 } });
    const candidate = broken(serving);
    loop.propose(candidate, "broken on purpose");
    assert.equal(loop.state, "gate");
    assert.throws(() => loop.propose(serving.clone(), "another"), /cannot propose a candidate while in gate/);
    loop.learn(habitEvents(200, 21));
    assert.equal(decided.length, 0, "no decision before the holdout is complete");
    loop.learn(habitEvents(100, 22, 0, 200));
    assert.equal(decided.length, 1);
    const [d] = decided;
    assert.equal(d!.kind, "discard");
    assert.equal(d!.at, 300);
    assert.ok(d!.other! < d!.serving! * 0.95, `candidate ${d!.other} vs serving ${d!.serving}`);
    assert.match(d!.reason, /broken on purpose/);
    assert.match(d!.reason, /NDCG@10/);
    for (const figure of figures(d!)) assert.ok(d!.reason.includes(figure), `${figure} in "${d!.reason}"`);
    assert.deepEqual(loop.decisions, decided);
    assert.equal(loop.serving, serving);
    assert.deepEqual(served, []);
    assert.equal(loop.state, "idle");
    // The candidate shadowed the serving student: it learned the same events.
    assert.equal(candidate.learned, 300);
    assert.equal(serving.learned, 300);
    assert.equal(loop.events, 300);
  });

  test("a better candidate is promoted, watched, then confirmed", () => {
    const good = student();
    good.learn(habitEvents(200, 50), 100);
    const serving = broken(good);
    const { loop, decided, served } = loopOf(serving, null, {
      gate: { holdout: 300, tolerance: 0.05 },
      watch: { window: 300, tolerance: 0.05 },
    });
    const candidate = good;
    loop.propose(candidate, "the trained one");
    loop.learn(habitEvents(300, 21));
    assert.deepEqual(
      decided.map((d) => [d.kind, d.at, d.rule]),
      [["promote", 300, "better"]],
    );
    const promote = decided[0]!;
    assert.ok(promote.other! > promote.serving!);
    assert.match(promote.reason, /the trained one/);
    for (const figure of figures(promote)) assert.ok(promote.reason.includes(figure), promote.reason);
    assert.equal(loop.serving, candidate);
    assert.equal(loop.state, "watch");
    assert.equal(served.length, 1);
    assert.equal(served[0]![0], candidate);
    assert.equal(served[0]![1], promote);
    loop.learn(habitEvents(300, 22, 0, 300));
    assert.deepEqual(
      decided.map((d) => [d.kind, d.at]),
      [
        ["promote", 300],
        ["confirm", 600],
      ],
    );
    assert.equal(loop.serving, candidate);
    assert.equal(loop.state, "idle");
    assert.equal(served.length, 1, "a confirmation changes nothing in service");
    // The replaced student kept learning while it was watched, then stopped.
    assert.equal(serving.learned, 200 + 600);
    loop.learn(habitEvents(100, 23, 0, 600));
    assert.equal(serving.learned, 200 + 600);
    assert.equal(candidate.learned, 200 + 700);
  });

  test("a promoted student that does worse in service is rolled back", () => {
    const good = student();
    const serving = broken(good);
    const { loop, decided, served } = loopOf(serving, null, {
      gate: { holdout: 300 },
      watch: { window: 300, tolerance: 0.05 },
    });
    const candidate = good;
    loop.propose(candidate, "the trained one");
    loop.learn(habitEvents(300, 21));
    assert.equal(decided[0]!.kind, "promote");
    assert.equal(loop.serving, candidate);
    // Once in service it goes wrong: it ranks every list backwards.
    const score = candidate.score.bind(candidate);
    candidate.score = (user, history, items) => score(user, history, items).map((v) => -v);
    loop.learn(habitEvents(300, 22, 0, 300));
    assert.deepEqual(
      decided.map((d) => [d.kind, d.at, d.rule]),
      [
        ["promote", 300, "better"],
        ["rollback", 600, "worse"],
      ],
    );
    const rollback = decided[1]!;
    assert.ok(rollback.serving! < rollback.other! * 0.95);
    for (const figure of [rollback.serving!.toFixed(4), rollback.other!.toFixed(4)]) {
      assert.ok(rollback.reason.includes(figure), rollback.reason);
    }
    assert.equal(loop.serving, serving, "the previous student serves again");
    assert.equal(served.length, 2);
    assert.equal(served[0]![0], candidate);
    assert.equal(served[0]![1], decided[0]);
    assert.equal(served[1]![0], serving);
    assert.equal(served[1]![1], rollback);
    assert.equal(loop.state, "idle");
  });
});

describe("OnlineLoop: re-distillation", () => {
  const distill = { users: 50, topK: 5, negatives: 10, epochs: 1, teacherRehearsal: 2 };

  test("an abrupt change of behaviour is detected as drift and triggers re-distillation", () => {
    const serving = student();
    const teacher = student(2);
    const { loop, decided } = loopOf(serving, teacher, {
      redistillEvery: 0,
      drift: { window: 200, drop: 0.3 },
      gate: { holdout: 10_000 },
      distill,
    });
    loop.learn(habitEvents(600, 22));
    assert.equal(decided.length, 0, "no drift while behaviour holds");
    // Everyone now takes the items of another group.
    loop.learn(habitEvents(600, 23, 3, 600));
    const redistills = decided.filter((d) => d.kind === "redistill");
    assert.equal(redistills.length, 1);
    const [d] = redistills;
    assert.match(d!.reason, /^drift: NDCG@10 over the last 200 events/);
    assert.ok(d!.at > 600 && d!.at <= 800, `at ${d!.at}`);
    assert.equal(loop.state, "gate", "the candidate shadows the serving student");
    assert.equal(loop.serving, serving);
    // The teacher caught up on the events before it was asked for soft labels.
    assert.equal(teacher.learned, d!.at);
  });

  test("without drift detection, re-distillation runs on schedule", () => {
    const serving = student();
    const teacher = student(2);
    const before = snapshot(serving.model);
    const { loop, decided } = loopOf(serving, teacher, {
      redistillEvery: 300,
      drift: false,
      gate: { holdout: 200 },
      // A promoted candidate's watch ends before the next re-distillation falls due.
      watch: { window: 50 },
      distill,
    });
    loop.learn(habitEvents(700, 24));
    const redistills = decided.filter((d) => d.kind === "redistill");
    assert.deepEqual(
      redistills.map((d) => d.at),
      [300, 600],
    );
    assert.match(redistills[0]!.reason, /^schedule: 300 events since the last re-distillation/);
    // Between the two, the first candidate went through the gate at 500 and, if promoted, its watch ended at 600,
    // just before the second re-distillation started.
    const promoted = decided[1]!.kind === "promote";
    assert.ok(promoted || decided[1]!.kind === "discard");
    assert.deepEqual(
      decided.map((d) => d.at),
      promoted ? [300, 500, 600, 600] : [300, 500, 600],
    );
    if (promoted) assert.ok(["confirm", "rollback"].includes(decided[2]!.kind));
    assert.equal(teacher.learned, 600);
    assert.notDeepEqual(snapshot(serving.model), before);
  });

  test("without a teacher nothing is re-distilled; asking for it is an error", () => {
    const { loop, decided } = loopOf(student(), null, { redistillEvery: 100, drift: { window: 100, drop: 0.1 } });
    loop.learn(habitEvents(200, 22));
    loop.learn(habitEvents(300, 23, 3, 200));
    assert.deepEqual(decided, []);
    assert.throws(() => loop.redistill("asked"), /re-distillation needs a teacher/);
    assert.equal(loop.events, 500);
  });
});

describe("OnlineLoop: options", () => {
  test("refuses settings that are not positive integers, and tolerances and drift settings out of range", () => {
    const s = student();
    const cases: [OnlineLoopOptions, RegExp][] = [
      [{ batch: 0 }, /batch must be a positive integer/],
      [{ batch: 2.5 }, /batch must be a positive integer/],
      [{ gate: { holdout: 0 } }, /gate.holdout must be a positive integer/],
      [{ watch: { window: -1 } }, /watch.window must be a positive integer/],
      [{ recentEvents: Number.NaN }, /recentEvents must be a positive integer/],
      [{ drift: { window: 0 } }, /drift.window must be ≥ 1/],
      [{ drift: { drop: 0 } }, /drift.drop must be in \(0, 1\)/],
      [{ drift: { drop: 1 } }, /drift.drop must be in \(0, 1\)/],
      [{ drift: { drop: Number.NaN } }, /drift.drop must be in \(0, 1\)/],
      [{ redistillEvery: -1 }, /redistillEvery must be an integer ≥ 0/],
      [{ negatives: 0 }, /negatives must be a positive integer/],
      [{ gate: { tolerance: -0.1 } }, /gate.tolerance must be in \[0, 1\]/],
      [{ watch: { tolerance: Number.NaN } }, /watch.tolerance must be in \[0, 1\]/],
      [{ gate: { maxUserShare: 2 } }, /gate.maxUserShare must be in \[0, 1\]/],
      [{ gate: { minEvents: 0 } }, /gate.minEvents must be a positive integer/],
      [{ watch: { minUsers: 1.5 } }, /watch.minUsers must be a positive integer/],
      [{ gate: { holdout: 100, maxEvents: 50 } }, /gate.maxEvents must be an integer ≥ the window/],
      [{ gate: { standardErrors: -1 } }, /gate.standardErrors must be a finite number ≥ 0/],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => new OnlineLoop(s, null, options), message, JSON.stringify(options));
    }
    // Turned off, drift settings are not looked at; the defaults are valid.
    assert.equal(new OnlineLoop(s, null, { drift: false }).state, "idle");
    assert.equal(new OnlineLoop(s, null).state, "idle");
  });
});

describe("OnlineLoop: windows of prequential quality", () => {
  test("the serving student's HR@10 and NDCG@10 since the last read: a good student beats a broken one", () => {
    const good = new OnlineLoop(student(), null, { drift: false });
    good.learn(habitEvents(300, 61));
    const window = good.takeQuality();
    assert.equal(window.events, 300);
    assert.ok(window.ndcg > 0 && window.ndcg <= window.hr && window.hr <= 1, JSON.stringify(window));
    assert.deepEqual(good.takeQuality(), { events: 0, hr: 0, ndcg: 0 }, "a fresh window after a read");

    const bad = new OnlineLoop(broken(student()), null, { drift: false });
    bad.learn(habitEvents(300, 61));
    assert.ok(bad.takeQuality().hr < window.hr);
  });
});
