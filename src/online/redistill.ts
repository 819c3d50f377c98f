/**
 * Re-distillation from a refreshed teacher: the teacher catches up on the events since its last refresh
 * (one incremental pass, plus rehearsal of its replay buffer), its soft labels are regenerated for the
 * users active recently — their top items by the teacher, with the teacher's logits, and sampled items —
 * as distillation's soft labels (distill/soft-labels.ts) — and a copy of the online student is trained on
 * them by distillation's list terms (distill/losses.ts: by default listwise, the KL between the teacher's
 * and the student's softmax over each list) plus BPR on the recent events, one single-threaded sparse step
 * per batch of lists. The copy is a candidate: the promotion gate decides whether it serves.
 */
import { DataRng } from "../data/rng.js";
import { addListTerms } from "../distill/losses.js";
import { allocateSoftLabels, setSoftLabelRow, type SoftLabels } from "../distill/soft-labels.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import type { Tensor } from "../engine/tensor.js";
import { topK } from "../eval/metrics.js";
import { drawExcluding } from "../eval/protocol.js";
import { listIndex } from "../models/recommender.js";
import { WeightedSum } from "../train/losses.js";
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

/**
 * The teacher's lists for some users, as soft labels: row r is the list of `users[r]` (user r of
 * `labels`), with no observed slice, the teacher's top unseen items (its top-K slice) and then sampled
 * ones; `labels.items` are the teacher's item rows, `items` their external ids.
 */
export interface TeacherLists {
  users: string[];
  histories: string[][];
  /** [users · length] item ids, row-major. */
  items: string[];
  labels: SoftLabels;
  /** [users · length] teacher logits (labels.teacherScores). */
  logits: Float32Array;
  /** The list length (labels.listLength). */
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
  const negatives = options.negatives ?? 30;
  const rng = new DataRng(options.seed ?? 0);
  const n = teacher.activeItems;
  const length = Math.min((options.topK ?? 20) + negatives, n);
  const k = Math.min(options.topK ?? 20, length);
  const histories = users.map((u) => teacher.recentItems(u).slice());
  const labels = allocateSoftLabels(users.length, 0, k, length - k);
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
      const top = topK(row, k, seen);
      const sampled = drawExcluding(new Set(top), n, length - top.length, rng);
      setSoftLabelRow(labels, start + p, { user: start + p, observed: [], top, sampled }, row);
    });
  }
  const items = Array.from(labels.items, (r) => teacher.itemId(r));
  return { users: [...users], histories, items, labels, logits: labels.teacherScores, length };
}

/** The student's logits [rows, L] of the lists `rows`: its user vectors against its item vectors of each list. */
function scoreLists(model: OnlineModel, lists: TeacherLists, items: Int32Array, rows: Int32Array): Tensor {
  const L = lists.length;
  const u = model.userVectors(
    Array.from(rows, (r) => lists.users[r]!),
    Array.from(rows, (r) => lists.histories[r]!),
  );
  const itemRows = new Int32Array(rows.length * L);
  rows.forEach((r, b) => itemRows.set(items.subarray(r * L, (r + 1) * L), b * L));
  return ops
    .rowDot(ops.embedding(u, new Ids(listIndex(rows.length, L))), model.itemVectors(itemRows))
    .reshape([rows.length, L]);
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
  const weights = { listwise: options.listwise ?? 3, temperature: options.temperature ?? 1 };
  const hard = options.hard ?? 1;
  const rng = new DataRng(options.seed ?? 0);
  const candidate = student.clone();
  const rows = lists.users.length;
  // The lists in the candidate's item rows (items it has not met score with its cold row).
  const labels: SoftLabels = {
    ...lists.labels,
    items: Int32Array.from(lists.items, (item) => candidate.itemRow(item) ?? candidate.coldItemRow),
  };
  const order = Int32Array.from({ length: rows }, (_, r) => r);
  let loss = 0;
  for (let epoch = 0; epoch < epochs && rows > 0; epoch++) {
    rng.shuffle(order);
    let at = 0;
    loss = candidate.train(Math.ceil(rows / batchUsers), (model) => {
      const batch = order.subarray(at, at + batchUsers);
      at += batchUsers;
      const sum = new WeightedSum(null);
      addListTerms(scoreLists(model, lists, labels.items, batch), labels, batch, weights, sum);
      if (hard !== 0 && recent.length > 0) {
        const samples = Array.from({ length: batch.length }, () => {
          const e = recent[rng.int(recent.length)]!;
          // The event's own item is in the user's recent items by now: it must not predict itself.
          return { user: e.user, item: e.item, history: model.recentItems(e.user).filter((i) => i !== e.item) };
        });
        const bpr = model.bprLoss(samples);
        if (bpr) sum.add("hard", hard, bpr);
      }
      return sum.total;
    });
  }
  return { candidate, loss };
}
