// Fixtures of the online-learning tests: a small planted world (users and items in taste groups), a base
// model briefly trained on it, and streams of events that follow — or break — its tastes.
import { DataRng } from "../../src/data/rng.js";
import { IdMap } from "../../src/data/idmap.js";
import { Adam } from "../../src/engine/optim.js";
import { endStep, type Tensor } from "../../src/engine/tensor.js";
import { createModel, type ModelContext, type ModelSpec } from "../../src/models/index.js";
import type { BaseModel, LiveEvent, OnlineModel } from "../../src/online/model.js";

export const USERS = 96;
export const ITEMS = 64;
/** User u likes the items of group u % GROUPS; item i belongs to group i % GROUPS. */
export const GROUPS = 8;
/** Training history per user (items of their group). */
const HISTORY = 6;

export const userId = (u: number): string => `u${u}`;
export const itemId = (i: number): string => `i${i}`;
export const groupOf = (index: number): number => index % GROUPS;
/** The items of group g. */
export const groupItems = (g: number): number[] =>
  Array.from({ length: ITEMS / GROUPS }, (_, k) => k * GROUPS + (((g % GROUPS) + GROUPS) % GROUPS));

/** Users u0…, items i0…, side features on both sides (unrelated to the groups), own-group histories. */
export function plantedContext(): ModelContext {
  const rng = new DataRng(11);
  const offsets = Int32Array.from({ length: USERS + 1 }, (_, u) => HISTORY * u);
  const items = new Int32Array(HISTORY * USERS);
  for (let u = 0; u < USERS; u++) {
    const own = groupItems(groupOf(u));
    for (let k = 0; k < HISTORY; k++) items[HISTORY * u + k] = own[rng.int(own.length)]!;
  }
  return {
    numUsers: USERS,
    numItems: ITEMS,
    histories: { offsets, items },
    userFeatures: {
      categorical: [{ name: "region", vocabSize: 4, ids: Int32Array.from({ length: USERS }, (_, u) => 1 + (u % 3)) }],
      multi: [],
      numeric: [],
    },
    itemFeatures: {
      categorical: [{ name: "shelf", vocabSize: 4, ids: Int32Array.from({ length: ITEMS }, (_, i) => 1 + (i % 3)) }],
      multi: [
        {
          name: "tags",
          vocabSize: 5,
          offsets: Int32Array.from({ length: ITEMS + 1 }, (_, i) => 2 * i),
          ids: Int32Array.from({ length: 2 * ITEMS }, (_, k) => 1 + (k % 4)),
        },
      ],
      numeric: [{ name: "price", values: Float32Array.from({ length: ITEMS }, (_, i) => ((i % 5) - 2) / 2) }],
    },
  };
}

export const TWO_TOWER: ModelSpec = { kind: "two-tower", dim: 8, maxHistory: 4, seed: 3 };
export const BPR_MF: ModelSpec = { kind: "bpr-mf", dim: 8, seed: 3 };

/** A model of `spec` over the planted world, trained with BPR for `steps` steps (0: as initialised). */
export function plantedBase(spec: ModelSpec = TWO_TOWER, steps = 120): BaseModel {
  const context = plantedContext();
  const model = createModel(spec, context);
  const rng = new DataRng(5);
  const opt = new Adam(model.parameters(), { lr: 0.05 });
  const batch = 128;
  for (let s = 0; s < steps; s++) {
    const users = Int32Array.from({ length: batch }, () => rng.int(USERS));
    const positives = Int32Array.from(users, (u) => {
      const own = groupItems(groupOf(u));
      return own[rng.int(own.length)]!;
    });
    const negatives = Int32Array.from(users, () => rng.int(ITEMS));
    const historyEnd = Int32Array.from(users, (u) => context.histories!.offsets[u + 1]!);
    opt.zeroGrad();
    model.loss({ users, positives, negatives, historyEnd }).backward();
    opt.step();
    endStep();
  }
  model.eval();
  return {
    model,
    users: IdMap.fromJSON(Array.from({ length: USERS }, (_, u) => userId(u))),
    items: IdMap.fromJSON(Array.from({ length: ITEMS }, (_, i) => itemId(i))),
  };
}

/**
 * `n` events of base users, each taking an item of the group `shift` groups from their own (0: their
 * tastes as trained), timestamps from `from` on.
 */
export function habitEvents(n: number, seed: number, shift = 0, from = 0): LiveEvent[] {
  const rng = new DataRng(seed);
  return Array.from({ length: n }, (_, e) => {
    const u = rng.int(USERS);
    const items = groupItems(groupOf(u) + shift);
    return { user: userId(u), item: itemId(items[rng.int(items.length)]!), timestamp: (from + e) * 1000 };
  });
}

/** Copies of every parameter's values, by name. */
export function snapshot(model: { namedParameters(): [string, Tensor][] }): Map<string, Float32Array> {
  return new Map(model.namedParameters().map(([name, t]) => [name, t.data.slice()]));
}

/** Row `row` of the online model's parameter `name` (a copy). */
export function row(online: OnlineModel, name: string, r: number): number[] {
  const param = online.model.namedParameters().find(([n]) => n === name)?.[1];
  if (!param) throw new Error(`no parameter ${name}`);
  const dim = param.shape[1]!;
  return Array.from(param.data.subarray(r * dim, (r + 1) * dim));
}

/** Where `item`'s score ranks among `scores` (0 = best; ties count half). */
export function rankIn(scores: ArrayLike<number>, item: number): number {
  let above = 0;
  let ties = 0;
  for (let k = 0; k < scores.length; k++) {
    if (k === item) continue;
    if (scores[k]! > scores[item]!) above++;
    else if (scores[k] === scores[item]) ties++;
  }
  return above + ties / 2;
}

/** Mean KL(teacher ‖ student) of the softmaxes over lists of logits ([rows · length], row-major). */
export function listKL(teacher: ArrayLike<number>, student: ArrayLike<number>, length: number): number {
  const rows = teacher.length / length;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const p = softmax(Array.from({ length }, (_, j) => teacher[r * length + j]!));
    const q = softmax(Array.from({ length }, (_, j) => student[r * length + j]!));
    for (let j = 0; j < length; j++) if (p[j]! > 0) total += p[j]! * Math.log(p[j]! / q[j]!);
  }
  return total / rows;
}

function softmax(xs: number[]): number[] {
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
