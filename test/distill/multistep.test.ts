import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserHistories } from "../../src/data/history.js";
import { buildUserItemIndex, UniformSampler } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { historyInputs, type ModelContext } from "../../src/models/context.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import type { Recommender } from "../../src/models/recommender.js";
import { distillChain, type ChainStep } from "../../src/distill/multistep.js";
import { generateSoftLabels, type SoftLabelOptions } from "../../src/distill/soft-labels.js";
import { buildTrainingData } from "../../src/train/training-data.js";
import { train, type TrainOptions } from "../../src/train/trainer.js";

const NUM_USERS = 300;
const NUM_ITEMS = 150;

const dataset = generateEcommerce({ users: NUM_USERS, items: NUM_ITEMS, events: 8000, seed: 1 });
const split = leaveOneOut(dataset.interactions);
const histories = buildUserHistories(split.train, NUM_USERS);
const context: ModelContext = { numUsers: NUM_USERS, numItems: NUM_ITEMS, histories: historyInputs(histories) };
const seen = buildUserItemIndex(split.train, NUM_USERS);
const data = buildTrainingData(split.train, context, histories);

function shared(): Omit<TrainOptions, "model" | "weights" | "softLabels"> {
  return {
    context,
    data,
    epochs: 3,
    batchSize: 256,
    lr: 0.02,
    threads: 1,
    seed: 5,
    sampler: new UniformSampler(seen, NUM_ITEMS, { seed: 6 }),
    progress: false,
  };
}

const softLabelOptions: SoftLabelOptions = {
  users: Int32Array.from({ length: NUM_USERS }, (_, u) => u),
  seen,
  numItems: NUM_ITEMS,
  positivesPerUser: 2,
  topK: 5,
  negatives: 8,
  seed: 9,
};

const dims = (model: Recommender) => model.parameters().map((p) => p.shape.join("x"));

describe("multi-step distillation", () => {
  test("teacher → assistant → student: each stage learns from the previous one and has the requested spec", async () => {
    const teacherSpec: ModelSpec = { kind: "bpr-mf", dim: 32, seed: 1 };
    const teacher = (await train({ ...shared(), model: teacherSpec })).model;
    const steps: ChainStep[] = [
      {
        name: "assistant",
        spec: { kind: "neumf", gmfDim: 8, mlpSizes: [16, 8], seed: 2 },
        weights: { hard: 0, listwise: 1, temperature: 2 },
      },
      {
        name: "student",
        spec: { kind: "bpr-mf", dim: 4, seed: 3 },
        weights: { hard: 0.5, pointwise: 1 },
        train: { lr: 0.05 },
      },
    ];
    const started: string[] = [];
    const chain = await distillChain({
      teacher,
      steps,
      softLabelOptions,
      trainOptions: shared(),
      onStep: (_, step) => started.push(step.name!),
    });

    assert.deepEqual(started, ["assistant", "student"]);
    assert.equal(chain.stages.length, 2);
    assert.equal(chain.student, chain.stages[1]!.model);
    chain.stages.forEach((stage, k) => {
      const spec = steps[k]!.spec;
      assert.equal(stage.name, steps[k]!.name);
      assert.equal(stage.model.kind, spec.kind);
      assert.deepEqual(dims(stage.model), dims(createModel(spec, context)), `${stage.name} has the spec's shapes`);
      assert.equal(stage.result.history.length, 3);
      assert.ok(stage.result.history.every((r) => Number.isFinite(r.loss)));
      // Training moved the parameters away from the spec's initialisation.
      const fresh = createModel(spec, context).parameters();
      assert.ok(stage.model.parameters().some((p, i) => p.data.some((v, j) => v !== fresh[i]!.data[j])));
    });

    // Stage 1's labels come from the teacher, stage 2's from the trained assistant (not the teacher).
    assert.deepEqual(chain.stages[0]!.softLabels, generateSoftLabels(teacher, softLabelOptions));
    assert.deepEqual(chain.stages[1]!.softLabels, generateSoftLabels(chain.stages[0]!.model, softLabelOptions));
    assert.notDeepEqual(chain.stages[1]!.softLabels.teacherScores, chain.stages[0]!.softLabels.teacherScores);
  });

  test("a pure listwise student learns to agree with its teacher's lists", async () => {
    const teacher = (await train({ ...shared(), model: { kind: "bpr-mf", dim: 32, seed: 1 }, epochs: 6 })).model;
    const labels = generateSoftLabels(teacher, softLabelOptions);
    const studentSpec: ModelSpec = { kind: "bpr-mf", dim: 8, seed: 4 };
    const L = labels.listLength;
    const argmax = (values: ArrayLike<number>): number => {
      let best = 0;
      for (let j = 1; j < values.length; j++) if (values[j]! > values[best]!) best = j;
      return best;
    };
    /** Mean KL(teacher ‖ student) of the lists' softmaxes, and how often both put the same item first. */
    const compare = (model: Recommender) => {
      const scorer = model.scorer();
      let kl = 0;
      let sameTop = 0;
      for (let r = 0; r < labels.users.length; r++) {
        const s = scorer.scoreCandidates({ user: labels.users[r]! }, labels.items.subarray(r * L, (r + 1) * L));
        const t = labels.teacherScores.subarray(r * L, (r + 1) * L);
        const logSumExp = (x: ArrayLike<number>) => {
          const m = Math.max(...Array.from(x));
          return m + Math.log(Array.from(x).reduce((a, v) => a + Math.exp(v - m), 0));
        };
        const lt = logSumExp(t);
        const ls = logSumExp(s);
        for (let j = 0; j < L; j++) kl += Math.exp(t[j]! - lt) * (t[j]! - lt - (s[j]! - ls));
        if (argmax(s) === argmax(t)) sameTop++;
      }
      return { kl: kl / labels.users.length, sameTop: sameTop / labels.users.length };
    };
    const before = compare(createModel(studentSpec, context));
    const { student } = await distillChain({
      teacher,
      steps: [{ spec: studentSpec, weights: { hard: 0, listwise: 1 } }],
      softLabelOptions,
      // Each list is learnt once per epoch.
      trainOptions: { ...shared(), epochs: 12, lr: 0.05 },
    });
    const after = compare(student);
    const report = `KL ${before.kl.toFixed(3)} → ${after.kl.toFixed(3)}, same top item ${before.sameTop} → ${after.sameTop}`;
    assert.ok(after.kl < before.kl * 0.5, report);
    assert.ok(after.sameTop > before.sameTop + 0.3, report);
  });

  test("a hint step learns from the previous stage's model, not the chain's teacher", async () => {
    // BPR-MF has no representation: the hint step can only run against the two-tower assistant.
    const teacher = (await train({ ...shared(), model: { kind: "bpr-mf", dim: 16, seed: 1 }, epochs: 1 })).model;
    const chain = await distillChain({
      teacher,
      steps: [
        { name: "assistant", spec: { kind: "two-tower", dim: 8, seed: 2 }, weights: { hard: 1, listwise: 1 } },
        { name: "student", spec: { kind: "two-tower", dim: 4, seed: 3 }, weights: { hard: 0, hint: 1 } },
      ],
      softLabelOptions,
      trainOptions: { ...shared(), lr: 0.01 },
    });
    const losses = chain.stages[1]!.result.history.map((r) => r.loss);
    assert.ok(losses[2]! < losses[0]!, `hint losses ${losses.map((l) => l.toFixed(4))}`);
  });

  test("an empty chain is refused", async () => {
    const teacher = createModel({ kind: "bpr-mf", dim: 4 }, context);
    await assert.rejects(distillChain({ teacher, steps: [], softLabelOptions, trainOptions: shared() }), /no steps/);
  });
});
