/**
 * Re-distillation from a refreshed teacher: the teacher catches up on the events since its last refresh
 * (one incremental pass, plus rehearsal of its replay buffer), its soft labels are regenerated for the
 * users active recently — their top items by the teacher, with the teacher's logits, and sampled items —
 * and a copy of the online student is trained on them by listwise distillation (KL between the teacher's
 * and the student's softmax over each list, as ranking distillation's listwise variant) plus BPR on the
 * recent events. The copy is a candidate: the promotion gate decides whether it serves.
 */
import { DataRng } from "../data/rng.js";
import { listwiseKLLoss } from "../distill/losses.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { topK } from "../eval/metrics.js";
import { drawExcluding } from "../eval/protocol.js";
import { listIndex } from "../models/recommender.js";
import type { LiveEvent, OnlineModel } from "./model.js";

export interface RedistillOptions {
  /** Rehearsal steps of the teacher on its replay buffer after it learns the new events (default 20). */
  teacherRehearsal?: number;
  /** Most recently active users whose soft labels are regenerated (default 2 000). */
  users?: number;
  /** The teacher's top items per user in a list (default 20). */
  topK?: number;
  /** Sampled items per list besides the top ones (default 30). */
  negatives?: number;
  /** Passes over the lists (default 3). */
  epochs?: number;
  /** Users per distillation step (default 64). */
  batchUsers?: number;
  /** Weight of the listwise term (default 3) and of BPR on the recent events (default 1). */
  listwise?: number;
  hard?: number;
  temperature?: number;
  seed?: number;
}

/** The teacher's lists for some users: each list's item ids and the teacher's logits for them. */
export interface TeacherLists {
  users: string[];
  histories: string[][];
  /** [users · length] item ids, row-major. */
  items: string[];
  /** [users · length] teacher logits. */
  logits: Float32Array;
  length: number;
}

/** Let the teacher learn the events since its last refresh, then rehearse. */
export function refreshTeacher(teacher: OnlineModel, events: readonly LiveEvent[], rehearsal = 20): void {
  teacher.learn(events);
  teacher.rehearse(rehearsal);
}

/** The distinct users of `events`, most recent first, at most `max`. */
export function recentUsers(events: readonly LiveEvent[], max: number): string[] {
  const users = new Set<string>();
  for (let e = events.length - 1; e >= 0 && users.size < max; e--) users.add(events[e]!.user);
  return [...users];
}

/** Soft labels for `users`: the teacher's top `topK` unseen items and `negatives` sampled ones, scored. */
export function teacherLists(
  teacher: OnlineModel,
  users: readonly string[],
  options: { topK?: number; negatives?: number; seed?: number } = {},
): TeacherLists {
  const k = options.topK ?? 20;
  const negatives = options.negatives ?? 30;
  const rng = new DataRng(options.seed ?? 0);
  const n = teacher.activeItems;
  const length = Math.min(k + negatives, n);
  const histories = users.map((u) => teacher.recentItems(u).slice());
  const items: string[] = [];
  const logits = new Float32Array(users.length * length);
  const chunk = 256;
  for (let start = 0; start < users.length; start += chunk) {
    const part = users.slice(start, start + chunk);
    const scores = teacher.scoreCatalogue(part, histories.slice(start, start + chunk));
    part.forEach((_, p) => {
      const row = scores.subarray(p * n, (p + 1) * n);
      const seen = new Uint8Array(n);
      for (const item of histories[start + p]!) {
        const r = teacher.itemRow(item);
        if (r !== undefined && r < n) seen[r] = 1;
      }
      const top = Array.from(topK(row, Math.min(k, length), seen));
      top.push(...drawExcluding(new Set(top), n, length - top.length, rng));
      const at = (start + p) * length;
      top.forEach((r, j) => {
        items.push(teacher.itemId(r));
        logits[at + j] = row[r]!;
      });
    });
  }
  return { users: [...users], histories, items, logits, length };
}

/**
 * A candidate: a copy of `student` distilled from the teacher's lists, with BPR on `recent` events.
 * Returns it with the mean loss of its last epoch.
 */
export function distilCandidate(
  student: OnlineModel,
  lists: TeacherLists,
  recent: readonly LiveEvent[],
  options: RedistillOptions = {},
): { candidate: OnlineModel; loss: number } {
  const epochs = options.epochs ?? 3;
  const batchUsers = options.batchUsers ?? 64;
  const listwise = options.listwise ?? 3;
  const hard = options.hard ?? 1;
  const T = options.temperature ?? 1;
  const rng = new DataRng(options.seed ?? 0);
  const candidate = student.clone();
  const rows = lists.users.length;
  const L = lists.length;
  const order = Int32Array.from({ length: rows }, (_, r) => r);
  let loss = 0;
  for (let epoch = 0; epoch < epochs && rows > 0; epoch++) {
    rng.shuffle(order);
    let at = 0;
    loss = candidate.train(Math.ceil(rows / batchUsers), (model) => {
      const batch = order.subarray(at, at + batchUsers);
      at += batchUsers;
      const u = model.userVectors(
        Array.from(batch, (r) => lists.users[r]!),
        Array.from(batch, (r) => lists.histories[r]!),
      );
      const itemRows = new Int32Array(batch.length * L);
      const teacherLogits = new Float32Array(batch.length * L);
      batch.forEach((r, b) => {
        for (let j = 0; j < L; j++) {
          itemRows[b * L + j] = model.itemRow(lists.items[r * L + j]!) ?? model.coldItemRow;
          teacherLogits[b * L + j] = lists.logits[r * L + j]!;
        }
      });
      const studentLogits = ops
        .rowDot(ops.embedding(u, new Ids(listIndex(batch.length, L))), model.itemVectors(itemRows))
        .reshape([batch.length, L]);
      let total = ops.scale(listwiseKLLoss(studentLogits, teacherLogits, T), listwise);
      if (hard !== 0 && recent.length > 0) {
        const samples = Array.from({ length: batch.length }, () => {
          const e = recent[rng.int(recent.length)]!;
          // The event's own item is in the user's recent items by now: it must not predict itself.
          return { user: e.user, item: e.item, history: model.recentItems(e.user).filter((i) => i !== e.item) };
        });
        const bpr = model.bprLoss(samples);
        if (bpr) total = ops.add(total, ops.scale(bpr, hard));
      }
      return total;
    });
  }
  return { candidate, loss };
}
