import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import type { Optimizer } from "../../src/engine/optim.js";
import { endStep, noGrad, type Tensor } from "../../src/engine/tensor.js";
import { createModel, type FeatureInputs, type ModelSpec, type TwoTower } from "../../src/models/index.js";
import { OnlineModel, type BaseModel, type LiveEvent } from "../../src/online/model.js";
import { growContext } from "../../src/online/grow.js";
import {
  BPR_MF,
  groupItems,
  groupOf,
  habitEvents,
  ITEMS,
  itemId,
  plantedBase,
  plantedContext,
  rankIn,
  row,
  snapshot,
  TWO_TOWER,
  USERS,
  userId,
} from "../helpers/online.js";
import { tinyContext } from "../helpers/models.js";

const bases = new Map<string, BaseModel>();
/** The planted base model of a kind, trained once per file (online models copy it, never change it). */
function base(spec: ModelSpec = TWO_TOWER): BaseModel {
  let b = bases.get(spec.kind);
  if (!b) bases.set(spec.kind, (b = plantedBase(spec)));
  return b;
}

/** A small sequence model: online learning trains it through its user vectors like any dot-product model. */
const SASREC: ModelSpec = { kind: "sasrec", dim: 8, blocks: 1, heads: 1, maxLength: 4, dropout: 0, seed: 3 };

const adam = (lr: number) => ({ optimizer: "adam" as const, lr });

type Sample = { user: string; item: string; history: string[] };

/** Record every sample list the model computes a BPR loss of, as it was when the loss was taken. */
function spyOnLoss(online: OnlineModel, also?: () => void): Sample[][] {
  const calls: Sample[][] = [];
  const original = online.bprLoss.bind(online);
  online.bprLoss = (samples) => {
    calls.push(samples.map((s) => ({ user: s.user, item: s.item, history: [...s.history] })));
    also?.();
    return original(samples);
  };
  return calls;
}

function vector(t: Tensor): number[] {
  return Array.from(t.data);
}

describe("OnlineModel: learning", () => {
  for (const spec of [TWO_TOWER, BPR_MF, SASREC]) {
    test(`${spec.kind}: repeated interactions move users' scores toward an item they were unlikely to take`, () => {
      const online = new OnlineModel(base(spec), { optimizer: adam(0.03), replayRatio: 1, seed: 1 });
      const frozen = online.clone();
      const group = Array.from({ length: USERS }, (_, u) => u)
        .filter((u) => groupOf(u) === 0)
        .map(userId);
      const target = groupItems(1)[0]!;
      const control = groupItems(2)[0]!;
      // Scored with the same (training) histories before and after: only the parameters differ.
      const histories = group.map((u) => frozen.recentItems(u).slice());
      const margins = (model: OnlineModel) =>
        group.map((u, k) => {
          const [t, c] = model.score(u, histories[k]!, [itemId(target), itemId(control)]);
          return t! - c!;
        });
      const ranks = (model: OnlineModel) => {
        const n = model.activeItems;
        const scores = model.scoreCatalogue(group, histories);
        return group.map((_, k) => rankIn(scores.subarray(k * n, (k + 1) * n), target));
      };
      const marginsBefore = margins(online);
      const ranksBefore = ranks(online);
      const frozenBefore = margins(frozen);
      // Everyone keeps their habits; the group also takes the target item, again and again.
      const background = habitEvents(600, 2);
      const events: LiveEvent[] = [];
      background.forEach((e, k) => {
        events.push(e);
        if (k % 2 === 0) events.push({ user: group[k % group.length]!, item: itemId(target), timestamp: e.timestamp });
      });
      online.learn(events, 64);
      assert.equal(online.learned, events.length);
      const marginsAfter = margins(online);
      const ranksAfter = ranks(online);
      group.forEach((u, k) => {
        assert.ok(marginsAfter[k]! > marginsBefore[k]!, `${u}: margin ${marginsBefore[k]} → ${marginsAfter[k]}`);
        assert.ok(ranksAfter[k]! < ranksBefore[k]!, `${u}: rank ${ranksBefore[k]} → ${ranksAfter[k]}`);
      });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      // Unlikely before (in the bottom half of the catalogue on average), among the top items after.
      assert.ok(mean(ranksBefore) > ITEMS / 4, `mean rank before ${mean(ranksBefore)}`);
      assert.ok(mean(ranksAfter) < mean(ranksBefore) / 2, `mean rank ${mean(ranksBefore)} → ${mean(ranksAfter)}`);
      // The copy that learned nothing scores exactly as before.
      assert.deepEqual(margins(frozen), frozenBefore);
    });
  }

  test("learning changes neither the base model nor a clone; a clone learns on its own", () => {
    const b = base();
    const baseBefore = snapshot(b.model);
    const online = new OnlineModel(b, { optimizer: adam(0.03), seed: 1 });
    const copy = online.clone();
    const copyBefore = snapshot(copy.model);
    online.learn(habitEvents(300, 4, 1), 100);
    assert.deepEqual(snapshot(b.model), baseBefore);
    assert.deepEqual(snapshot(copy.model), copyBefore);
    assert.notDeepEqual(snapshot(online.model), copyBefore);
    assert.equal(copy.learned, 0);
    // And the other way round: the clone's learning leaves the original alone.
    const onlineBefore = snapshot(online.model);
    copy.learn(habitEvents(100, 5), 50);
    assert.deepEqual(snapshot(online.model), onlineBefore);
    assert.equal(copy.learned, 100);
  });

  test("a clone taken mid-stream learns exactly as the original goes on to (optimiser state and draws carry over)", () => {
    const online = new OnlineModel(base(), { optimizer: adam(0.03), seed: 3 });
    online.learn(habitEvents(300, 6, 1), 100);
    const copy = online.clone();
    const next = habitEvents(200, 7, 2);
    online.learn(next, 100);
    copy.learn(next, 100);
    assert.deepEqual(snapshot(copy.model), snapshot(online.model));
    // A model started afresh from the same parameters (new optimiser, new draws) does not.
    const fresh = new OnlineModel(base(), { optimizer: adam(0.03), seed: 3 });
    fresh.learn(habitEvents(300, 6, 1), 100);
    const restarted = new OnlineModel(base(), { optimizer: adam(0.03), seed: 3 });
    for (const [name, t] of restarted.model.namedParameters()) {
      t.data.set(fresh.model.namedParameters().find(([n]) => n === name)![1].data);
    }
    fresh.learn(next, 100);
    restarted.learn(next, 100);
    assert.notDeepEqual(snapshot(restarted.model), snapshot(fresh.model));
  });

  test("each event is learned with the user's recent items from before it (never its own item)", () => {
    const online = new OnlineModel(base(), { optimizer: adam(0.01), replayCapacity: 0 });
    const calls = spyOnLoss(online);
    const baseHistory = online.recentItems("u3").slice();
    assert.equal(baseHistory.length, online.historyLength);
    const events: LiveEvent[] = ["a", "b", "c", "d", "e"].map((item, k) => ({ user: "new", item, timestamp: k }));
    events.push({ user: "u3", item: "f", timestamp: 9 });
    online.learn(events, 16);
    assert.equal(calls.length, 1);
    assert.deepEqual(
      calls[0]!.map((s) => [s.item, s.history]),
      [
        ["a", []],
        ["b", ["a"]],
        ["c", ["a", "b"]],
        ["d", ["a", "b", "c"]],
        ["e", ["a", "b", "c", "d"]],
        ["f", baseHistory],
      ],
    );
    // Afterwards the user's recent items include the events, the last historyLength of them.
    assert.deepEqual(online.recentItems("new"), ["b", "c", "d", "e"]);
    assert.deepEqual(online.recentItems("u3"), [...baseHistory.slice(1), "f"]);
  });

  test("replayed samples are past events (with the recent items they had), mixed in at replayRatio", () => {
    const online = new OnlineModel(base(), { optimizer: adam(0.01), replayRatio: 2, seed: 3 });
    const calls = spyOnLoss(online);
    const first = habitEvents(40, 6);
    online.learn(first, 40);
    online.learn(habitEvents(10, 7, 0, 40), 10);
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.length, 40, "nothing to replay yet");
    assert.equal(calls[1]!.length, 10 + 20);
    const past = new Set(calls[0]!.map((s) => JSON.stringify(s)));
    for (const s of calls[1]!.slice(10))
      assert.ok(past.has(JSON.stringify(s)), `${JSON.stringify(s)} was not an event`);
    const rehearsed = online.rehearse(2, 8);
    assert.ok(Number.isFinite(rehearsed) && rehearsed > 0);
    assert.deepEqual(
      calls.slice(2).map((c) => c.length),
      [8, 8],
    );
  });

  test("a recycled slot starts over: the user row from the unknown user, the item row from zero, fresh moments", () => {
    const online = new OnlineModel(base(), {
      userSlots: 2,
      itemSlots: 2,
      optimizer: adam(0.05),
      replayCapacity: 0,
      admitAfter: 1,
    });
    const unknownBefore = row(online, "user.weight", online.unknownUserRow);
    // n1 and n2 take both user slots, x1 and x2 both item slots, and all four rows are trained.
    for (let k = 0; k < 5; k++) {
      online.learn(
        [
          { user: "n1", item: "x1", timestamp: 2 * k },
          { user: "n2", item: "x2", timestamp: 2 * k + 1 },
        ],
        2,
      );
    }
    const n1Row = online.userRow("n1")!;
    const x1Row = online.itemRow("x1")!;
    assert.notDeepEqual(row(online, "user.weight", n1Row), unknownBefore);
    assert.ok(row(online, "item.weight", x1Row).some((v) => v !== 0));
    // The unknown user's row is never trained.
    assert.deepEqual(row(online, "user.weight", online.unknownUserRow), unknownBefore);
    const optimizer = (online as unknown as { optimizer: Optimizer }).optimizer;
    const state = (name: string, r: number) => {
      const t = optimizer.stateTensors().find((s) => s.name === name)!;
      const dim = t.shape[1]!;
      return Array.from(t.data.subarray(r * dim, (r + 1) * dim));
    };
    assert.ok(state("user.weight.v", n1Row).some((v) => v !== 0));
    // n3 and x3 arrive; n1 and x1 are the stalest and lose their slots. Look at the rows as the step starts.
    let seen: { user: number[]; item: number[]; m: number[]; v: number[]; itemV: number[] } | undefined;
    spyOnLoss(online, () => {
      seen = {
        user: row(online, "user.weight", online.userRow("n3")!),
        item: row(online, "item.weight", online.itemRow("x3")!),
        m: state("user.weight.m", online.userRow("n3")!),
        v: state("user.weight.v", online.userRow("n3")!),
        itemV: state("item.weight.v", online.itemRow("x3")!),
      };
    });
    online.learn([{ user: "n3", item: "x3", timestamp: 20 }], 1);
    assert.equal(online.userRow("n1"), undefined);
    assert.equal(online.userRow("n3"), n1Row, "n3 took n1's row");
    assert.equal(online.itemRow("x3"), x1Row, "x3 took x1's row");
    assert.equal(online.users.evictions, 1);
    assert.equal(online.items.evictions, 1);
    assert.ok(seen);
    assert.deepEqual(seen.user, unknownBefore);
    assert.ok(
      seen.item.every((v) => v === 0),
      "a recycled item row is zero",
    );
    assert.ok(
      [...seen.m, ...seen.v, ...seen.itemV].every((v) => v === 0),
      "the optimiser's moments start over",
    );
    // n1 comes back as a new user: from the unknown user, not from what it had learned.
    assert.deepEqual(online.recentItems("n1"), []);
  });

  test("memory stays bounded over a long stream of new users and items", () => {
    const userSlots = 50;
    const itemSlots = 30;
    const online = new OnlineModel(base(), {
      userSlots,
      itemSlots,
      optimizer: adam(0.01),
      replayCapacity: 500,
      // Every new id takes a slot at once: the slots churn as hard as they can.
      admitAfter: 1,
      seed: 2,
    });
    const shapes = online.model.namedParameters().map(([name, t]) => [name, [...t.shape]]);
    const n = 20_000;
    // Every user is new (two events each); every other item is new, the others are the base model's.
    const events: LiveEvent[] = Array.from({ length: n }, (_, e) => ({
      user: `nu${Math.floor(e / 2)}`,
      item: e % 2 === 0 ? itemId(e % ITEMS) : `ni${e}`,
      timestamp: e,
    }));
    const last = n - 256;
    assert.ok(Number.isFinite(online.learn(events.slice(0, last), 256)));
    // Every slot has been trained by someone by now; the last batch's users take them over, from the unknown user.
    const unknown = row(online, "user.weight", online.unknownUserRow);
    const slotRows = Array.from({ length: userSlots }, (_, s) => USERS + s);
    assert.ok(slotRows.filter((r) => row(online, "user.weight", r).some((v, d) => v !== unknown[d])).length > 10);
    let atStep: number[][] = [];
    spyOnLoss(online, () => {
      atStep = events.slice(last).flatMap((e) => {
        const r = online.userRow(e.user);
        return r === undefined ? [] : [row(online, "user.weight", r)];
      });
    });
    online.learn(events.slice(last), 256);
    assert.equal(atStep.length, 2 * userSlots, "each slot holder's two events");
    for (const r of atStep) assert.deepEqual(r, unknown);
    assert.equal(online.learned, n);
    assert.equal(online.users.size, userSlots);
    assert.equal(online.items.size, itemSlots);
    assert.equal(online.users.evictions, n / 2 - userSlots);
    assert.equal(online.items.evictions, n / 2 - itemSlots);
    assert.equal(online.activeItems, ITEMS + itemSlots);
    assert.deepEqual(
      online.model.namedParameters().map(([name, t]) => [name, [...t.shape]]),
      shapes,
    );
    // The newest users hold the slots; everyone else's recent items are gone with their slot.
    let holders = 0;
    for (let u = 0; u < n / 2; u++) {
      const user = `nu${u}`;
      if (online.users.get(user) === undefined) {
        assert.deepEqual(online.recentItems(user), [], user);
      } else {
        holders++;
        assert.ok(u >= n / 2 - userSlots, `${user} still holds a slot`);
        assert.equal(online.recentItems(user).length, 2);
      }
    }
    assert.equal(holders, userSlots);
    // What an artefact of it would hold is bounded too.
    const exported = online.export();
    assert.equal(exported.users.size, USERS + userSlots);
    assert.equal(exported.items.size, ITEMS + itemSlots);
  });

  test("learn refuses a batch size that is not a positive integer", () => {
    const online = new OnlineModel(base(), {});
    for (const bad of [0, -1, 1.5]) {
      assert.throws(() => online.learn(habitEvents(3, 1), bad), /batch size must be a positive integer/);
    }
    assert.equal(online.learned, 0);
  });
});

describe("OnlineModel: floods", () => {
  test("an id the base model never saw takes a slot only at its admitAfter-th sighting; until then it is on probation", () => {
    const online = new OnlineModel(base(), { userSlots: 4, itemSlots: 4, optimizer: adam(0.01), admitAfter: 2 });
    online.learn([{ user: "new-user", item: "new-item", timestamp: 0 }]);
    assert.equal(online.users.get("new-user"), undefined);
    assert.equal(online.items.get("new-item"), undefined);
    // Its recent items are kept meanwhile, so it is encoded from them.
    assert.deepEqual(online.recentItems("new-user"), ["new-item"]);
    online.learn([{ user: "new-user", item: "new-item", timestamp: 1 }]);
    assert.notEqual(online.users.get("new-user"), undefined);
    assert.notEqual(online.items.get("new-item"), undefined);
    assert.deepEqual(online.recentItems("new-user"), ["new-item", "new-item"]);
  });

  test("a flood of ids seen once does not take the slots of ids that recur", () => {
    const online = new OnlineModel(base(), { userSlots: 8, itemSlots: 8, optimizer: adam(0.01), admitAfter: 2 });
    const recurring = ["r1", "r2", "r3"];
    for (let round = 0; round < 2; round++) {
      online.learn(recurring.map((user, k) => ({ user, item: `ri${k}`, timestamp: round })));
    }
    // 2 000 users and items seen once each: none is admitted, nobody recurring is evicted.
    const flood = Array.from({ length: 2000 }, (_, k) => ({ user: `f${k}`, item: `fi${k}`, timestamp: 2 + k }));
    online.learn(flood);
    for (const user of recurring) assert.notEqual(online.users.get(user), undefined, user);
    assert.equal(online.users.evictions, 0);
    assert.equal(online.items.evictions, 0);
    assert.ok(online.users.size <= recurring.length + 2, `${online.users.size} users hold slots`);
    // With admitAfter 1 the same flood churns every slot.
    const eager = new OnlineModel(base(), { userSlots: 8, itemSlots: 8, optimizer: adam(0.01), admitAfter: 1 });
    eager.learn(recurring.map((user, k) => ({ user, item: `ri${k}`, timestamp: 0 })));
    eager.learn(flood);
    for (const user of recurring) assert.equal(eager.users.get(user), undefined, user);
  });

  test("one user's flood is learned only up to maxUserEvents per window; everyone else is learned in full", () => {
    const online = new OnlineModel(base(), {
      optimizer: adam(0.01),
      replayRatio: 0,
      maxUserEvents: 50,
      userWindow: 1_000_000,
    });
    const calls = spyOnLoss(online);
    const flooder = userId(0);
    const events: LiveEvent[] = [];
    for (let k = 0; k < 400; k++) {
      events.push({ user: flooder, item: itemId(0), timestamp: k });
      if (k % 4 === 0) events.push({ user: userId(1 + (k % (USERS - 1))), item: itemId(1), timestamp: k });
    }
    online.learn(events, 64);
    const learned = calls.flat();
    // The count decays by e^(-1/userWindow) an event: over 500 events that lets at most one more through.
    const flooded = learned.filter((s) => s.user === flooder).length;
    assert.ok(flooded >= 50 && flooded <= 51, `${flooded} of the flooder's events learned`);
    assert.equal(learned.filter((s) => s.user !== flooder).length, 100);
    assert.equal(online.capped, 400 - flooded);
    // Every event is taken in, and the flooder's recent items still follow.
    assert.equal(online.learned, events.length);
    assert.equal(online.recentItems(flooder).at(-1), itemId(0));
  });

  test("a user's budget recovers as the window passes (decayed counts)", () => {
    const options = { optimizer: adam(0.01), replayRatio: 0, maxUserEvents: 10, userWindow: 100 };
    const flooder = userId(0);
    const burst = (from: number) =>
      Array.from({ length: 30 }, (_, k) => ({ user: flooder, item: itemId(0), timestamp: from + k }));
    const others = habitEvents(1000, 4).map((e) => (e.user === flooder ? { ...e, user: userId(1) } : e));
    const flooderSamples = (calls: Sample[][]) => calls.flat().filter((s) => s.user === flooder).length;
    // Over a burst the count also decays, by 30/100 of the cap: about 10 + 3 are learned.
    const bound = 10 + (30 * 10) / 100 + 1;
    const rested = new OnlineModel(base(), options);
    const restedCalls = spyOnLoss(rested);
    rested.learn(burst(0), 30);
    const first = flooderSamples(restedCalls);
    assert.ok(first >= 10 && first <= bound, `first burst: ${first}`);
    // 1 000 events of others: the flooder's count decays by e^-10, and a second burst is learned as the first.
    rested.learn(others, 500);
    restedCalls.length = 0;
    rested.learn(burst(2000), 30);
    assert.ok(flooderSamples(restedCalls) >= 10, `after a rest: ${flooderSamples(restedCalls)}`);
    // Straight after the first burst, a second one is learned only as far as the count has decayed.
    const eager = new OnlineModel(base(), options);
    const eagerCalls = spyOnLoss(eager);
    eager.learn(burst(0), 30);
    eagerCalls.length = 0;
    eager.learn(burst(30), 30);
    assert.ok(flooderSamples(eagerCalls) <= 5, `without a rest: ${flooderSamples(eagerCalls)}`);
  });

  test("one user holds at most maxReplayShare of the replay reservoir", () => {
    const online = new OnlineModel(base(), {
      optimizer: adam(0.01),
      replayCapacity: 100,
      maxReplayShare: 0.1,
      replayRatio: 1,
      maxUserEvents: 1_000_000,
      seed: 7,
    });
    const calls = spyOnLoss(online);
    const flooder = userId(0);
    online.learn(
      Array.from({ length: 500 }, (_, k) => ({ user: flooder, item: itemId(k % ITEMS), timestamp: k })),
      50,
    );
    online.learn(
      habitEvents(300, 9).filter((e) => e.user !== flooder),
      50,
    );
    calls.length = 0;
    // Rehearsal draws only from the reservoir: the flooder's share of it is at most 10 of 100.
    online.rehearse(20, 50);
    const drawn = calls.flat();
    const share = drawn.filter((s) => s.user === flooder).length / drawn.length;
    assert.ok(share <= 0.2, `the flooder is ${(share * 100).toFixed(1)}% of replayed samples`);
  });

  test("refuses caps that are not positive integers and a share outside (0, 1]", () => {
    for (const options of [
      { admitAfter: 0 },
      { maxUserEvents: 1.5 },
      { userWindow: -1 },
      { maxReplayShare: 0 },
      { maxReplayShare: 2 },
    ]) {
      assert.throws(
        () => new OnlineModel(base(), { optimizer: adam(0.01), ...options }),
        RangeError,
        JSON.stringify(options),
      );
    }
  });
});

describe("OnlineModel: scoring and construction", () => {
  test("a user it has not met scores as the base model's unknown user; scoring learns nothing", () => {
    const b = base();
    const online = new OnlineModel(b, { userSlots: 3, itemSlots: 3 });
    const history = [itemId(3), itemId(11)];
    const items = [itemId(0), itemId(5), itemId(40)];
    const scores = online.score("stranger", history, items);
    const expected = b.model
      .scorer()
      .scoreCandidates({ user: USERS, history: Int32Array.from([3, 11]) }, Int32Array.from([0, 5, 40]));
    assertClose(scores, expected);
    // A known user scores as in the base model.
    assertClose(
      online.score("u7", history, items),
      b.model.scorer().scoreCandidates({ user: 7, history: Int32Array.from([3, 11]) }, Int32Array.from([0, 5, 40])),
    );
    assert.equal(online.users.size, 0);
    assert.equal(online.userRow("stranger"), undefined);
    assert.equal(online.learned, 0);
  });

  test("an item it has not met scores through a zero id row (its side features alone); bpr-mf scores it 0", () => {
    const tower = new OnlineModel(base(TWO_TOWER), { itemSlots: 2 });
    const history = tower.recentItems("u1");
    const [a, b, known] = tower.score("u1", history, ["never-seen", "nor-this", itemId(1)]);
    assert.equal(a, b);
    assert.notEqual(a, known);
    const model = base(TWO_TOWER).model as TwoTower;
    const unknownFeatures: FeatureInputs = {
      categorical: [{ name: "shelf", vocabSize: 4, ids: new Int32Array(1) }],
      multi: [{ name: "tags", vocabSize: 5, offsets: Int32Array.from([0, 1]), ids: new Int32Array(1) }],
      numeric: [{ name: "price", values: new Float32Array(1) }],
    };
    const expected = noGrad(() => {
      const u = vector(tower.userVectors(["u1"], [history]));
      const v = vector(model.coldItemVectors(unknownFeatures, 1));
      endStep();
      return u.reduce((s, x, d) => s + x * v[d]!, 0);
    });
    assert.ok(Math.abs(a! - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${a} vs ${expected}`);
    assert.equal(tower.items.size, 0, "scoring assigns no slot");
    const mf = new OnlineModel(base(BPR_MF), { itemSlots: 2 });
    const [cold, warm] = mf.score("u1", [], ["never-seen", itemId(1)]);
    assert.equal(cold, 0);
    assert.notEqual(warm, 0);
  });

  test("scoreCatalogue scores every item row in use for each user, as score does", () => {
    const online = new OnlineModel(base(), { itemSlots: 4, optimizer: adam(0.02), admitAfter: 1 });
    online.learn(
      [
        { user: "u1", item: "fresh-1", timestamp: 0 },
        { user: "u2", item: "fresh-2", timestamp: 1 },
      ],
      2,
    );
    const n = online.activeItems;
    assert.equal(n, ITEMS + 2);
    const users = ["u1", "u2", "nobody"];
    const histories = users.map((u) => online.recentItems(u));
    const all = online.scoreCatalogue(users, histories);
    assert.equal(all.length, users.length * n);
    const ids = Array.from({ length: n }, (_, r) => online.itemId(r));
    assert.deepEqual(ids.slice(ITEMS), ["fresh-1", "fresh-2"]);
    users.forEach((u, k) => assertClose(all.subarray(k * n, (k + 1) * n), online.score(u, histories[k]!, ids)));
    assert.throws(() => online.itemId(n), /not in use/);
  });

  test("only two-tower and bpr-mf models with full or hashed id tables can learn online", () => {
    const context = plantedContext();
    const ids = base();
    const neumf = createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [8, 4] }, context);
    assert.throws(
      () => new OnlineModel({ ...ids, model: neumf }),
      /needs a dot-product model \(user and item vectors\), not neumf/,
    );
    const qr = createModel({ kind: "bpr-mf", dim: 4, itemTable: { kind: "qr" } }, context);
    assert.throws(() => new OnlineModel({ ...ids, model: qr }), /quotient-remainder/);
    assert.throws(() => new OnlineModel(ids, { userSlots: 0 }), /capacity must be a positive integer/);
  });
});

describe("OnlineModel.export", () => {
  for (const spec of [TWO_TOWER, BPR_MF]) {
    test(`${spec.kind}: base ids then slot ids, scoring exactly as the online model`, () => {
      const b = base(spec);
      const online = new OnlineModel(b, { userSlots: 4, itemSlots: 3, optimizer: adam(0.03), admitAfter: 1, seed: 5 });
      const events: LiveEvent[] = [
        ...habitEvents(200, 8),
        // Five new users for four slots (the first loses its slot), four new items for three.
        ...["n1", "n2", "n3", "n4", "n5"].map((user, k) => ({ user, item: itemId(k), timestamp: 1e6 + k })),
        ...["x1", "x2", "x3", "x4"].map((item, k) => ({ user: userId(k), item, timestamp: 2e6 + k })),
        { user: "n2", item: "x2", timestamp: 3e6 },
        { user: "n5", item: "x4", timestamp: 3e6 + 1 },
      ];
      online.learn(events, 32);
      const exported = online.export();
      const slotUsers = online.users.entries().map(([, id]) => id);
      const slotItems = online.items.entries().map(([, id]) => id);
      assert.deepEqual([...slotUsers].sort(), ["n2", "n3", "n4", "n5"]);
      assert.deepEqual([...slotItems].sort(), ["x2", "x3", "x4"]);
      assert.deepEqual(exported.users.toJSON(), [...b.users.toJSON(), ...slotUsers]);
      assert.deepEqual(exported.items.toJSON(), [...b.items.toJSON(), ...slotItems]);
      assert.equal(exported.model.numUsers, USERS + 4);
      assert.equal(exported.model.numItems, ITEMS + 3);
      assert.equal(exported.model.kind, spec.kind);
      assert.equal(exported.model.training, false);
      // Base users keep their training histories; the new ones have none.
      const histories = exported.model.context.histories!;
      assert.deepEqual(histories.offsets.subarray(0, USERS + 1), b.model.context.histories!.offsets);
      assert.equal(histories.offsets[USERS + 4], histories.offsets[USERS]);

      const scorer = exported.model.scorer();
      const itemIds = exported.items.toJSON();
      const itemRows = Int32Array.from(itemIds, (_, i) => i);
      if (spec.kind === "two-tower") {
        assert.ok(online.recentItems("u0").includes("x1"), "u0's recent items keep an item that lost its slot");
      }
      for (const user of ["u0", "u9", "n2", "n5", "n1", "nobody"]) {
        const history = online.recentItems(user);
        const index = exported.users.get(user) ?? exported.model.numUsers;
        const expected = online.score(user, history, itemIds);
        // Items that lost their slot are in no table: both leave them out of the history.
        const rows = history.map((i) => exported.items.get(i)).filter((r) => r !== undefined);
        const got = scorer.scoreCandidates({ user: index, history: Int32Array.from(rows) }, itemRows);
        assertClose(got, expected, `${user}`);
      }
    });
  }
});

describe("growContext", () => {
  test("keeps every base row and gives new rows unknown features, one token 0 per list, no history", () => {
    const context = tinyContext();
    const before = structuredClone(context);
    const grown = growContext(context, 8, 10);
    assert.deepEqual(context, before, "the base context is left alone");
    assert.equal(grown.numUsers, 8);
    assert.equal(grown.numItems, 10);
    const side = (features: FeatureInputs, original: FeatureInputs, from: number, to: number) => {
      features.categorical.forEach((c, f) => {
        const o = original.categorical[f]!;
        assert.equal(c.name, o.name);
        assert.equal(c.vocabSize, o.vocabSize);
        assert.deepEqual([...c.ids], [...o.ids, ...new Array<number>(to - from).fill(0)]);
      });
      features.numeric.forEach((n, f) => {
        assert.deepEqual([...n.values], [...original.numeric[f]!.values, ...new Array<number>(to - from).fill(0)]);
      });
      features.multi.forEach((m, f) => {
        const o = original.multi[f]!;
        assert.equal(m.vocabSize, o.vocabSize);
        assert.equal(m.offsets.length, to + 1);
        assert.deepEqual([...m.offsets.subarray(0, from + 1)], [...o.offsets]);
        for (let r = from; r < to; r++) {
          assert.deepEqual([...m.ids.subarray(m.offsets[r]!, m.offsets[r + 1]!)], [0], `row ${r}`);
        }
        assert.deepEqual([...m.ids.subarray(0, m.offsets[from]!)], [...o.ids]);
      });
    };
    side(grown.userFeatures!, context.userFeatures!, 5, 8);
    side(grown.itemFeatures!, context.itemFeatures!, 7, 10);
    const h = grown.histories!;
    assert.deepEqual([...h.offsets], [...context.histories!.offsets, 10, 10, 10]);
    assert.deepEqual([...h.items], [...context.histories!.items]);
  });

  test("a context without features or histories grows to sizes alone; a grown context builds a model", () => {
    assert.deepEqual(growContext({ numUsers: 2, numItems: 3 }, 4, 6), { numUsers: 4, numItems: 6 });
    const grown = growContext(plantedContext(), USERS + 3, ITEMS + 2);
    const model = createModel(TWO_TOWER, grown);
    assert.equal(model.numUsers, USERS + 3);
    assert.equal(model.numItems, ITEMS + 2);
    // The new rows score (no out-of-range feature or history lookups).
    const score = noGrad(() => {
      const s = model
        .forward({ users: new Ids(Int32Array.from([USERS + 2])), items: new Ids(Int32Array.from([ITEMS + 1])) })
        .item();
      endStep();
      return s;
    });
    assert.ok(Number.isFinite(score));
  });
});

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what = "scores"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    assert.ok(err <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}
