import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdMap } from "../../src/data/idmap.js";
import { Popularity, UserState, type BaseHistory, type ResolvedEvent } from "../../src/serve/state.js";

const users = IdMap.fromJSON(["alice", "bob"]);
/** Training histories: alice saw items 1, 2, 3; bob saw 4. */
const training = [new Int32Array([1, 2, 3]), new Int32Array([4])];
const base: BaseHistory = (userIndex) => (userIndex === undefined ? new Int32Array(0) : training[userIndex]!);

const events = (user: string, items: number[], from = 1000): ResolvedEvent[] =>
  items.map((item, i) => ({ user, item, timestamp: from + i }));
const recent = (state: UserState, user: string) => [...state.recent(user)];

describe("UserState", () => {
  test("a known user starts from their training history, an unknown one from nothing", () => {
    const state = new UserState(5, users, base);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3]);
    assert.deepEqual(recent(state, "carol"), []);
    state.apply([...events("alice", [7]), ...events("carol", [8, 9])]);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3, 7]);
    assert.deepEqual(recent(state, "carol"), [8, 9]);
    assert.equal(state.eventsOf("alice"), 1);
    assert.equal(state.eventsOf("carol"), 2);
    assert.equal(state.eventsOf("bob"), 0);
    assert.equal(state.users(), 2);
  });

  test("keeps at most maxUsers users: the least recently active one's live events are forgotten", () => {
    const state = new UserState(5, users, base, 2);
    state.apply([...events("carol", [8]), ...events("alice", [7]), ...events("dave", [9])]);
    // carol was least recently active: gone, answered from her (empty) base history again.
    assert.equal(state.users(), 2);
    assert.deepEqual(recent(state, "carol"), []);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3, 7]);
    // An event makes alice the most recent: erin's arrival evicts dave, not her.
    state.apply([...events("alice", [6], 2000), ...events("erin", [5], 2001)]);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3, 7, 6]);
    assert.deepEqual(recent(state, "dave"), []);
    assert.deepEqual(recent(state, "erin"), [5]);
    assert.throws(() => new UserState(5, users, base, 0), /maxUsers must be a positive integer/);
  });

  test("keeps the newest maxHistory items, oldest first", () => {
    const state = new UserState(3, users, base);
    state.apply(events("alice", [10, 11]));
    assert.deepEqual(recent(state, "alice"), [3, 10, 11]);
    state.apply(
      events(
        "carol",
        Array.from({ length: 40 }, (_, i) => 100 + i),
      ),
    );
    assert.deepEqual(recent(state, "carol"), [137, 138, 139]);
    assert.equal(state.eventsOf("carol"), 40);
  });

  test("orders items by event time: a late event takes its place, one older than all kept is dropped", () => {
    const state = new UserState(4, users, base);
    state.apply([
      { user: "carol", item: 1, timestamp: 100 },
      { user: "carol", item: 3, timestamp: 300 },
      { user: "carol", item: 2, timestamp: 200 },
      { user: "carol", item: 4, timestamp: 300 },
    ]);
    assert.deepEqual(recent(state, "carol"), [1, 2, 3, 4]);
    state.apply([
      { user: "carol", item: 5, timestamp: 50 },
      { user: "carol", item: 6, timestamp: 250 },
    ]);
    assert.deepEqual(recent(state, "carol"), [2, 6, 3, 4]);
  });

  test("live events come after the training history whatever their timestamps", () => {
    const state = new UserState(4, users, base);
    state.apply([{ user: "alice", item: 9, timestamp: 0 }]);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3, 9]);
  });

  test("a training history longer than maxHistory is cut to its newest items", () => {
    const state = new UserState(2, users, base);
    assert.deepEqual(recent(state, "alice"), [2, 3]);
    state.apply(events("alice", [5]));
    assert.deepEqual(recent(state, "alice"), [3, 5]);
  });

  test("recent returns a copy", () => {
    const state = new UserState(3, users, base);
    state.apply(events("bob", [5]));
    state.recent("bob").fill(0);
    state.recent("alice").fill(0);
    assert.deepEqual(recent(state, "bob"), [4, 5]);
    assert.deepEqual(recent(state, "alice"), [1, 2, 3]);
  });

  test("a model that reads no history keeps none, but counts events", () => {
    const state = new UserState(0, users, base);
    state.apply(events("alice", [5, 6]));
    assert.deepEqual(recent(state, "alice"), []);
    assert.equal(state.eventsOf("alice"), 2);
  });

  test("rebuilding from a replay of every event equals applying them batch by batch", () => {
    const names = ["alice", "bob", "carol", "dave"];
    const log: ResolvedEvent[] = Array.from({ length: 500 }, (_, i) => ({
      user: names[(i * 7) % names.length]!,
      item: (i * 13) % 50,
      // Mostly in time order, some late.
      timestamp: 10 * i - (i % 9 === 0 ? 45 : 0),
    }));
    const incremental = new UserState(6, users, base);
    for (let from = 0; from < log.length; from += 37) incremental.apply(log.slice(from, from + 37));
    const rebuilt = new UserState(6, users, base);
    rebuilt.apply(events("erin", [1, 2, 3]));
    rebuilt.rebuild(log);
    assert.equal(rebuilt.users(), incremental.users());
    for (const user of [...names, "erin"]) {
      assert.deepEqual(recent(rebuilt, user), recent(incremental, user), user);
      assert.equal(rebuilt.eventsOf(user), incremental.eventsOf(user), user);
    }
  });

  test("refuses an item that is not an index and a timestamp that is not a number", () => {
    const state = new UserState(3, users, base);
    assert.throws(() => state.apply([{ user: "a", item: -1, timestamp: 1 }]), /item must be an index ≥ 0 \(got -1\)/);
    assert.throws(() => state.apply([{ user: "a", item: 1, timestamp: Number.NaN }]), /timestamp must be a finite/);
    assert.throws(() => new UserState(-1, users, base), /maxHistory must be an integer ≥ 0/);
  });
});

describe("Popularity", () => {
  const day = 86_400_000;
  const at = (item: number, timestamp: number) => ({ user: "x", item, timestamp });

  test("ranks by the seed counts before any live event", () => {
    const popularity = new Popularity(new Int32Array([3, 9, 0, 5]), { halfLifeMs: day });
    assert.deepEqual([...popularity.top(3)], [1, 3, 0]);
  });

  test("recent events outweigh as many old ones", () => {
    const popularity = new Popularity(new Int32Array(4), { halfLifeMs: day });
    popularity.add([at(0, 0), at(0, 1), at(0, 2)]);
    popularity.add([at(1, 5 * day), at(1, 5 * day + 1), at(1, 5 * day + 2)]);
    assert.deepEqual([...popularity.top(2)], [1, 0]);
  });

  test("an event one half-life later counts twice as much", () => {
    const popularity = new Popularity(new Int32Array(3), { halfLifeMs: day });
    popularity.add([at(2, 0), at(2, 0), at(1, day)]);
    // Equal weight: the lower index first.
    assert.deepEqual([...popularity.top(2)], [1, 2]);
    popularity.add([at(2, 0)]);
    assert.deepEqual([...popularity.top(2)], [2, 1]);
  });

  test("seed counts decay like events observed at the seed time", () => {
    const popularity = new Popularity(new Int32Array([4, 0]), { halfLifeMs: day, seedTime: 0 });
    assert.equal(popularity.score(0), 4);
    popularity.add([at(1, 2 * day)]);
    // Two half-lives on, the four seed events weigh as much as one event.
    assert.equal(popularity.score(0), 1);
    assert.equal(popularity.score(1), 1);
    assert.deepEqual([...popularity.top(2)], [0, 1]);
    popularity.add([at(1, 2 * day)]);
    assert.deepEqual([...popularity.top(2)], [1, 0]);
  });

  test("counts items past the seed from their first event", () => {
    const popularity = new Popularity(new Int32Array([1, 1]), { halfLifeMs: day });
    popularity.add([at(6, 0), at(6, 0)]);
    assert.deepEqual([...popularity.top(2)], [6, 0]);
    assert.equal(popularity.top(100).length, 7);
    assert.equal(popularity.score(6), 2);
    assert.equal(popularity.score(5), 0);
    assert.equal(popularity.score(99), 0);
  });

  test("leaves excluded items out", () => {
    const popularity = new Popularity(new Int32Array([5, 4, 3, 2]), { halfLifeMs: day });
    assert.deepEqual([...popularity.top(2, new Uint8Array([1, 0, 1, 0]))], [1, 3]);
  });

  test("keeps ranking correctly across years of event time", () => {
    const popularity = new Popularity(new Int32Array(2), { halfLifeMs: day });
    for (let d = 0; d < 3000; d += 10) popularity.add([at(d % 20 === 0 ? 0 : 1, d * day)]);
    // Without rescaling, weights 2^3000 would overflow to Infinity and tie.
    popularity.add([at(1, 3000 * day)]);
    assert.deepEqual([...popularity.top(2)], [1, 0]);
    assert.ok(Math.abs(popularity.score(1) - (1 + 2 ** -10 / (1 - 2 ** -20))) < 1e-9);
  });

  test("refuses a half-life that is not a positive number", () => {
    assert.throws(() => new Popularity(new Int32Array(1), { halfLifeMs: 0 }), /halfLifeMs must be a finite number > 0/);
  });
});
