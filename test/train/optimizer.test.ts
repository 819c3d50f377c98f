import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Adam, AdamW } from "../../src/engine/optim.js";
import { Tensor } from "../../src/engine/tensor.js";
import { createOptimizer } from "../../src/train/optimizer.js";
import { validatePipelineConfig } from "../../src/run/config.js";

describe("optimiser settings", () => {
  test("Adam's betas reach the optimiser (default 0.9, 0.999)", () => {
    const params = [Tensor.parameter([3], (d) => d.fill(1))];
    const plain = createOptimizer({ optimizer: "adam", lr: 0.01 }, params);
    assert.ok(plain instanceof Adam);
    assert.deepEqual([plain.beta1, plain.beta2], [0.9, 0.999]);
    const sasrec = createOptimizer({ optimizer: "adamw", lr: 0.01, betas: [0.9, 0.98] }, params);
    assert.ok(sasrec instanceof AdamW);
    assert.deepEqual([sasrec.beta1, sasrec.beta2], [0.9, 0.98]);
  });

  test("a config's betas must be two numbers in [0, 1)", () => {
    const config = (betas: unknown) => ({
      name: "b",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 }, train: { betas } }],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "m", weights: { hard: 1 } }] },
    });
    assert.deepEqual(validatePipelineConfig(config([0.9, 0.98])).teachers[0]!.train.betas, [0.9, 0.98]);
    assert.throws(() => validatePipelineConfig(config([0.9, 1])), /betas\/1 must be < 1/);
    assert.throws(() => validatePipelineConfig(config([0.9])), /betas must NOT have fewer than 2 items/);
  });
});
