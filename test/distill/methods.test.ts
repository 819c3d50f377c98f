// The papers' parts of the distillation methods: ranking distillation's hybrid weights, DE-RRD's sampling,
// the column gather they score through, the once-per-epoch use of each user's list, ensemble soft labels, distillation experts, topology distillation.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DataRng } from "../../src/data/rng.js";
import { UserItemIndex } from "../../src/data/sampling.js";
import * as ops from "../../src/engine/ops/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { distillationLoss, scaleListTerms } from "../../src/distill/losses.js";
import { anchoredListRows, listAnchors } from "../../src/distill/program.js";
import { consensusScores, generateEnsembleSoftLabels, generateSoftLabels } from "../../src/distill/soft-labels.js";
import {
  gatherColumns,
  rankDiscountedSample,
  rankingDistillationLoss,
  rankingHybridWeights,
  rankingWeights,
  uniformSample,
} from "../../src/distill/soft-losses.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";
import { Rng } from "../../src/engine/random.js";
import type { ModelSpec } from "../../src/models/index.js";
import { distill } from "../../src/distill/distill.js";
import { ExpertGroup, expertTemperature } from "../../src/distill/experts.js";
import { fullTopologyLoss, hierarchicalTopologyLoss } from "../../src/distill/topology.js";
import { train } from "../../src/train/trainer.js";
import { options as trainOptions, params } from "../train/fixture.js";

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe("rankingHybridWeights", () => {
  // Two rows of K = 3 teacher items against N = 4 sampled items, catalogue of 101 items.
  const topK = Float32Array.from([0.5, 2.0, -1.0, 9, 8, 7]);
  const sampled = Float32Array.from([1, 0, -2, 3, 0, 0, 0, 0]);

  test("is the position weight times tanh(max(0, μ(r̂ − r))), with r̂ from the sampled ranks, L1-normalised", () => {
    const w = rankingHybridWeights(topK, sampled, 3, 101, { lambda: 2, mu: 0.1 });
    const position = rankingWeights(3, 2);
    // Row 0: 2, 1 and 3 of the 4 sampled items score higher → r̂ = ⌊100 · 2/4⌋, ⌊100 · 1/4⌋, ⌊100 · 3/4⌋.
    const raw = [50, 25, 75].map((rank, r) => position[r]! * Math.tanh(0.1 * (rank - r)));
    const total = raw.reduce((a, b) => a + b, 0);
    raw.forEach((x, r) => close(w[r]!, x / total));
    // Row 1: the student already ranks every teacher item first: nothing to learn, no weight.
    assert.deepEqual(Array.from(w.subarray(3)), [0, 0, 0]);
  });

  test("an item the student under-ranks more weighs more", () => {
    const w = rankingHybridWeights(Float32Array.from([0, 0]), Float32Array.from([1, -1, -1, -1]), 2, 1000, {
      lambda: 1e9,
      mu: 0.001,
    });
    // Same estimated rank, but the second item sits one rank lower in the teacher's list: smaller gap.
    assert.ok(w[0]! > w[1]!, `${w[0]} ${w[1]}`);
  });

  test("with row weights the ranking loss is −mean Σ w log σ(s), and passes gradCheck", () => {
    const s = leaf([2, 3], 5, 2);
    const w = Float32Array.from([0.2, 0.5, 0.3, 1, 0, 0]);
    let ref = 0;
    for (let j = 0; j < 6; j++) ref += w[j]! * Math.log1p(Math.exp(-s.data[j]!));
    close(rankingDistillationLoss(s, 10, w).item(), ref / 2);
    endStep();
    gradCheck(() => rankingDistillationLoss(s, 10, w), [s]);
    assert.throws(() => rankingDistillationLoss(s, 10, new Float32Array(5)), /5 weights/);
    endStep();
  });
});

describe("DE-RRD sampling", () => {
  test("rank-discounted draws are distinct, ascending and favour the teacher's first ranks", () => {
    const rng = new DataRng(3);
    const counts = new Array<number>(30).fill(0);
    for (let t = 0; t < 400; t++) {
      const picks = rankDiscountedSample(30, 5, 4, rng);
      assert.equal(picks.length, 5);
      for (let j = 1; j < 5; j++) assert.ok(picks[j]! > picks[j - 1]!);
      for (const p of picks) counts[p]!++;
    }
    // P(rank r drawn) falls with r: the first five ranks are drawn far more often than the last five.
    const head = counts.slice(0, 5).reduce((a, b) => a + b, 0);
    const tail = counts.slice(25).reduce((a, b) => a + b, 0);
    assert.ok(head > 10 * Math.max(tail, 1), `${head} vs ${tail}`);
    assert.throws(() => rankDiscountedSample(3, 4, 1, rng), /4 draws from 3/);
  });

  test("uniform draws are distinct and cover the slice evenly", () => {
    const rng = new DataRng(5);
    const counts = new Array<number>(10).fill(0);
    for (let t = 0; t < 2000; t++) {
      const picks = uniformSample(10, 3, rng);
      assert.equal(new Set(picks).size, 3);
      for (const p of picks) counts[p]!++;
    }
    // Each value is drawn with probability 3/10: 600 of 2000 times, give or take sampling noise.
    for (const c of counts) assert.ok(Math.abs(c - 600) < 120, `${counts.join(" ")}`);
  });

  test("gatherColumns picks per-row columns and scatters the gradient back (repeats summed)", () => {
    const x = leaf([2, 4], 9, 1);
    const cols = Int32Array.from([3, 0, 3, 1, 2, 1]);
    const out = gatherColumns(x, cols, 3);
    assert.deepEqual(out.shape, [2, 3]);
    for (let j = 0; j < 6; j++) close(out.data[j]!, x.data[(j < 3 ? 0 : 4) + cols[j]!]!);
    endStep();
    const weights = [1, -2, 3, 0.5, 1.5, -1];
    gradCheck(() => ops.sum(ops.mul(gatherColumns(x, cols, 3), Tensor.from(weights, [2, 3]))), [x]);
    assert.throws(() => gatherColumns(x, Int32Array.from([0, 4]), 1), /column 4/);
    endStep();
  });
});

describe("relaxed ranking and ranking distillation in distillationLoss", () => {
  const context = { numUsers: 4, numItems: 40 };
  const seen = new UserItemIndex(new Int32Array([0, 2, 4, 6]), new Int32Array([1, 4, 0, 2, 7, 9]));
  const teacher = new BPRMF({ dim: 8, seed: 7, initStd: 0.5 }, context);
  const labels = generateSoftLabels(teacher, {
    users: new Int32Array([0, 1, 2]),
    seen,
    topK: 10,
    negatives: 12,
    seed: 1,
    numItems: 40,
  });
  const batch = {
    users: new Int32Array([0, 1, 2]),
    positives: new Int32Array([1, 0, 7]),
    negatives: new Int32Array([20, 21, 22]),
  };
  const sampling = { hard: 0, relaxedRanking: 1, rrdInteresting: 4, rrdUninteresting: 5, rrdTemperature: 3 };

  test("sampled relaxed ranking: the same generator state gives the same value, a new draw another; gradCheck", () => {
    const student = new BPRMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const value = (rng: DataRng) => distillationLoss(student, batch, labels, sampling, { rng }).total.item();
    const a = value(new DataRng(11));
    close(value(new DataRng(11)), a, 1e-7);
    const draws = new DataRng(11);
    value(draws);
    assert.notEqual(value(draws), a);
    endStep();
    gradCheck(
      () => distillationLoss(student, batch, labels, sampling, { rng: new DataRng(11) }).total,
      student.parameters(),
    );
  });

  test("sample sizes below 1 are refused by name, larger ones take the whole slice", () => {
    const student = new BPRMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    // Larger sizes than the slices take the whole slice.
    const whole = { hard: 0, relaxedRanking: 1 };
    close(
      distillationLoss(student, batch, labels, { ...whole, rrdInteresting: 11, rrdUninteresting: 99 }).total.item(),
      distillationLoss(student, batch, labels, whole).total.item(),
    );
    assert.throws(
      () => distillationLoss(student, batch, labels, { hard: 0, ranking: 1, rankingTopK: 0 }),
      /rankingTopK/,
    );
    endStep();
  });

  test("the dynamic ranking term uses the hybrid weights of the student's own sampled ranks; gradCheck", () => {
    const student = new BPRMF({ dim: 3, seed: 8, initStd: 0.5 }, context);
    const weights = { hard: 0, ranking: 1, rankingTopK: 6, rankingDynamic: 0.5, rankingLambda: 3 };
    const L = labels.listLength;
    const scorer = student.scorer();
    let ref = 0;
    for (let r = 0; r < 3; r++) {
      const s = scorer.scoreCandidates({ user: labels.users[r]! }, labels.items.subarray(r * L, (r + 1) * L));
      const top = s.slice(1, 7);
      const w = rankingHybridWeights(top, s.slice(11), 6, 40, { lambda: 3, mu: 0.5 });
      top.forEach((x, k) => (ref += w[k]! * Math.log1p(Math.exp(-x))));
    }
    close(distillationLoss(student, batch, labels, weights).total.item(), ref / 3, 1e-4);
    endStep();
    gradCheck(() => distillationLoss(student, batch, labels, weights).total, student.parameters());
  });
});

describe("list terms once per epoch", () => {
  test("over an epoch's batches, in any order, each user's list is taken exactly once", () => {
    const users = Int32Array.from([0, 0, 0, 1, 2, 2, 3, 0, 1, 2]);
    const positives = Int32Array.from([5, 6, 7, 5, 1, 2, 9, 8, 3, 4]);
    const anchors = listAnchors({ users, positives }, 5);
    assert.deepEqual(Array.from(anchors), [5, 5, 1, 9, -1]);
    const listRowOfUser = Int32Array.from([2, 0, 1, -1, 3]);
    const rng = new DataRng(4);
    for (let trial = 0; trial < 5; trial++) {
      const order = uniformSample(10, 10, rng).sort(() => rng.next() - 0.5);
      const taken: number[] = [];
      for (let start = 0; start < 10; start += 3) {
        const idx = order.subarray(start, start + 3);
        const batch = {
          users: Int32Array.from(idx, (s) => users[s]!),
          positives: Int32Array.from(idx, (s) => positives[s]!),
        };
        taken.push(...anchoredListRows(batch, listRowOfUser, anchors));
      }
      // Users 0, 1, 2 have lists (rows 2, 0, 1); user 3 has none.
      assert.deepEqual(taken.sort(), [0, 1, 2]);
    }
  });
});

describe("ensemble soft labels", () => {
  const a = Float32Array.from([3, 1, 2, 0, -1]);

  test('"score" is invariant to each teacher\'s scale and shift; "rank" only reads the orders', () => {
    const scaled = Float32Array.from(a, (x) => 10 * x - 4);
    const b = Float32Array.from([0, 2, 1, -1, 5]);
    const once = consensusScores([a, b], "score");
    const again = consensusScores([scaled, b], "score");
    once.forEach((x, i) => close(again[i]!, x, 1e-5));
    const cubed = Float32Array.from(b, (x) => x ** 3);
    assert.deepEqual(Array.from(consensusScores([a, cubed], "rank")), Array.from(consensusScores([a, b], "rank")));
    // Rank consensus: −mean log(1 + rank); item 0 is 1st for a and 4th for b.
    close(consensusScores([a, b], "rank")[0]!, -(Math.log(1) + Math.log(4)) / 2);
  });

  test("teachers that agree give their common order; a single teacher's ensemble lists are its own lists", () => {
    for (const kind of ["rank", "score"] as const) {
      const c = consensusScores([a, Float32Array.from(a, (x) => 2 * x)], kind);
      const order = (s: Float32Array) => Array.from(s.keys()).sort((i, j) => s[j]! - s[i]!);
      assert.deepEqual(order(c), order(a));
    }
    const context = { numUsers: 3, numItems: 30 };
    const seen = new UserItemIndex(new Int32Array([0, 2, 3, 5]), new Int32Array([1, 4, 0, 7, 9]));
    const teacher = new BPRMF({ dim: 6, seed: 3, initStd: 0.5 }, context);
    const options = { users: new Int32Array([0, 1, 2]), seen, topK: 5, negatives: 6, seed: 2, numItems: 30 };
    const single = generateSoftLabels(teacher, options);
    const ensemble = generateEnsembleSoftLabels([teacher], options, "score");
    assert.deepEqual(Array.from(ensemble.items), Array.from(single.items));
    assert.deepEqual(Array.from(ensemble.topKItems), Array.from(single.topKItems));
  });

  test("an ensemble of two teachers ranks by both: its top items come from either teacher's best", () => {
    const context = { numUsers: 2, numItems: 40 };
    const seen = new UserItemIndex(new Int32Array([0, 1, 2]), new Int32Array([3, 5]));
    const mf = new BPRMF({ dim: 6, seed: 3, initStd: 0.5 }, context);
    const other = new BPRMF({ dim: 12, seed: 9, initStd: 2 }, context);
    const options = { users: new Int32Array([0, 1]), seen, topK: 4, negatives: 5, seed: 2, numItems: 40 };
    const labels = generateEnsembleSoftLabels([mf, other], options, "rank");
    const one = generateSoftLabels(mf, { ...options, topK: 30 });
    const two = generateSoftLabels(other, { ...options, topK: 30 });
    for (let r = 0; r < 2; r++) {
      for (const item of labels.topKItems.subarray(r * 4, r * 4 + 4)) {
        assert.ok(
          one.topKItems.subarray(r * 30, r * 30 + 30).includes(item) ||
            two.topKItems.subarray(r * 30, r * 30 + 30).includes(item),
        );
      }
    }
    assert.throws(() => generateEnsembleSoftLabels([], options, "rank"), /no teachers/);
    assert.throws(() => generateEnsembleSoftLabels([mf], { ...options, tasks: true }, "rank"), /task scores/);
  });
});

describe("distillation experts (DE)", () => {
  test("one expert group: the loss is the mean squared distance of the chosen mixture, and passes gradCheck", () => {
    const group = new ExpertGroup(3, 5, 1, new Rng(2));
    const s = leaf([4, 3], 3, 1);
    const teacher = Float32Array.from({ length: 20 }, (_, i) => Math.sin(i));
    const mapped = group.experts[0]!.forward(s).toArray();
    let ref = 0;
    for (let j = 0; j < 20; j++) ref += (mapped[j]! - teacher[j]!) ** 2;
    close(group.loss(s, teacher, 1, new DataRng(1)).item(), ref / 4, 1e-4);
    endStep();
    gradCheck(() => group.loss(s, teacher, 1, new DataRng(1)), [s, ...group.parameters()]);
  });

  test("several experts: gradients reach the student, every expert and the selection network", () => {
    const group = new ExpertGroup(3, 6, 3, new Rng(4));
    const s = leaf([5, 3], 7, 1);
    const teacher = Float32Array.from({ length: 30 }, (_, i) => Math.cos(i));
    gradCheck(() => group.loss(s, teacher, 0.7, new DataRng(9)), [s, ...group.parameters()]);
  });

  test("the temperature anneals from 1 towards 0 and the choice hardens with it", () => {
    assert.equal(expertTemperature(0), 1);
    assert.ok(expertTemperature(0.5) < 1e-4 && expertTemperature(0.5) > expertTemperature(1));
    close(expertTemperature(1), 1e-10, 1e-6);
    assert.equal(expertTemperature(2), expertTemperature(1));
  });

  test("distill() with the experts term: the objective falls, the teacher stays frozen; needs dot-product models", async () => {
    const teacher = (await train(trainOptions({ model: { kind: "bpr-mf", dim: 12, seed: 5 }, epochs: 1 }))).model;
    const before = params(teacher);
    const weights = { hard: 0, experts: 1, expertCount: 2 };
    const result = await distill({
      ...trainOptions(),
      model: { kind: "bpr-mf", dim: 4, seed: 6 },
      weights,
      teacher,
      epochs: 3,
    });
    const losses = result.history.map((r) => r.loss);
    assert.ok(losses[2]! < losses[0]!, `losses ${losses.map((l) => l.toFixed(4))}`);
    assert.deepEqual(params(teacher), before);
    const ranker: ModelSpec = { kind: "mlp-ranker", dim: 4, hidden: [8], seed: 3 };
    await assert.rejects(
      distill({ ...trainOptions(), model: ranker, weights: { hard: 1, experts: 1 }, teacher, epochs: 1 }),
      /experts need dot-product teacher and student \(bpr-mf, mlp-ranker\)/,
    );
  });
});

describe("scaleListTerms", () => {
  test("scales the list terms only, leaving the hard, hint and experts weights and the settings alone", () => {
    const weights = {
      hard: 1,
      listwise: 2,
      relaxedRanking: 0.5,
      hint: 0.3,
      experts: 0.1,
      temperature: 3,
      rrdInteresting: 4,
    };
    assert.deepEqual(scaleListTerms(weights, 0.25), { ...weights, listwise: 0.5, relaxedRanking: 0.125 });
  });
});

describe("topology distillation", () => {
  const cos = (v: ArrayLike<number>, a: number, b: number, d: number, w: ArrayLike<number> = v): number => {
    let s = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < d; j++) {
      s += v[a * d + j]! * w[b * d + j]!;
      na += v[a * d + j]! ** 2;
      nb += w[b * d + j]! ** 2;
    }
    return s / Math.sqrt(na * nb);
  };

  test("FTD is the mean squared gap of every pair's cosine similarity, zero for a rescaled teacher; gradCheck", () => {
    const s = leaf([5, 3], 13, 1);
    const teacher = Float32Array.from({ length: 5 * 4 }, (_, i) => Math.sin(1.7 * i + 0.3));
    let ref = 0;
    for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) ref += (cos(s.data, a, b, 3) - cos(teacher, a, b, 4)) ** 2;
    close(fullTopologyLoss(s, teacher).item(), ref / 25, 1e-4);
    endStep();
    const same = Tensor.from(
      Float32Array.from(teacher, (x) => 3 * x),
      [5, 4],
    );
    assert.ok(fullTopologyLoss(same, teacher).item() < 1e-8);
    endStep();
    gradCheck(() => fullTopologyLoss(s, teacher), [s]);
  });

  test("HTD: same-group pairs plus entity-to-prototype similarities, prototypes constant; gradCheck", () => {
    const s = leaf([6, 3], 17, 1);
    const teacher = Float32Array.from({ length: 6 * 4 }, (_, i) => Math.cos(0.9 * i + 1));
    const groups = Int32Array.from([0, 1, 0, 2, 1, 0]);
    const present = [0, 1, 2];
    const proto = (v: ArrayLike<number>, d: number) =>
      present.flatMap((g) => {
        const members = [...groups.keys()].filter((e) => groups[e] === g);
        return Array.from({ length: d }, (_, j) => members.reduce((a, e) => a + v[e * d + j]!, 0) / members.length);
      });
    let entity = 0;
    let pairs = 0;
    for (let a = 0; a < 6; a++) {
      for (let b = 0; b < 6; b++) {
        if (groups[a] !== groups[b]) continue;
        entity += (cos(s.data, a, b, 3) - cos(teacher, a, b, 4)) ** 2;
        pairs++;
      }
    }
    const ps = proto(s.data, 3);
    const pt = proto(teacher, 4);
    let group = 0;
    for (let g = 0; g < 3; g++)
      for (let e = 0; e < 6; e++) group += (cos(ps, g, e, 3, s.data) - cos(pt, g, e, 4, teacher)) ** 2;
    close(hierarchicalTopologyLoss(s, teacher, groups).item(), entity / pairs + group / 18, 1e-4);
    endStep();
    // The prototypes are constants: the finite differences hold them where they are.
    const fixed = Float32Array.from(ps);
    gradCheck(() => hierarchicalTopologyLoss(s, teacher, groups, fixed), [s]);
  });

  test("distill() with FTD, and HTD with its experts: the objective falls and the teacher stays frozen", async () => {
    const teacher = (await train(trainOptions({ model: { kind: "bpr-mf", dim: 12, seed: 5 }, epochs: 1 }))).model;
    const before = params(teacher);
    const student: ModelSpec = { kind: "bpr-mf", dim: 4, seed: 6 };
    for (const weights of [
      { hard: 0, topology: 1 },
      { hard: 0, topology: 1, topologyKind: "hierarchical" as const, experts: 0.1, expertCount: 3 },
    ]) {
      const result = await distill({ ...trainOptions(), model: student, weights, teacher, epochs: 3 });
      const losses = result.history.map((r) => r.loss);
      assert.ok(losses[2]! < losses[0]!, `${JSON.stringify(weights)}: losses ${losses.map((l) => l.toFixed(4))}`);
    }
    assert.deepEqual(params(teacher), before);
    await assert.rejects(
      distill({
        ...trainOptions(),
        model: student,
        weights: { hard: 1, topology: 1, topologyKind: "hierarchical" },
        teacher,
        epochs: 1,
      }),
      /hierarchical topology groups entities by the experts/,
    );
  });
});
