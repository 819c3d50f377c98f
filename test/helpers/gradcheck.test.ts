import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/engine/random.js";
import * as ops from "../../src/engine/ops/index.js";
import { Tensor } from "../../src/engine/tensor.js";
import { createModel, sequenceWindows } from "../../src/models/index.js";
import { SASRec } from "../../src/models/sasrec.js";
import { sequenceLoss } from "../../src/train/sequence.js";
import { gradCheck, leaf } from "./gradcheck.js";
import { tinyContext } from "./models.js";

/** `loss`, with the analytic gradient of `param` multiplied by `factor` after each backward pass. */
function withBrokenGradient(loss: () => Tensor, param: Tensor, factor: number): () => Tensor {
  return () => {
    const out = loss();
    const backward = out.backward.bind(out);
    out.backward = (seed?: Tensor) => {
      backward(seed);
      if (param.grad) for (let i = 0; i < param.grad.size; i++) param.grad.data[i]! *= factor;
      for (const part of param.sparseGrad ?? []) {
        const rows = param.rt.f32.subarray(part.rows >> 2, (part.rows >> 2) + part.count * param.shape[1]!);
        for (let i = 0; i < rows.length; i++) rows[i]! *= factor;
      }
    };
    return out;
  };
}

function named(params: Tensor[], name: string): Tensor {
  const found = params.find((p) => p.name === name);
  assert.ok(found, `no parameter ${name} among ${params.map((p) => p.name).join(", ")}`);
  return found;
}

describe("gradCheck", () => {
  test("a smooth op: passes with the true gradient, fails with it halved, zeroed or 5% off", () => {
    const w = leaf([3, 4], 7, 0.3);
    const c = leaf([3, 4], 8);
    // Gradients of order 0.1, where the old check's absolute floor of 1 passed anything within 0.02.
    const loss = () => ops.sum(ops.mul(ops.tanh(w), c));
    gradCheck(loss, [w]);
    for (const factor of [0.5, 0, 1.05]) {
      assert.throws(() => gradCheck(withBrokenGradient(loss, w, factor), [w]), /gradient mismatch for input 0/);
    }
  });

  const batch = {
    users: new Int32Array([0, 3, 3, 6]),
    positives: new Int32Array([1, 2, 8, 0]),
    negatives: new Int32Array([4, 4, 5, 2]),
  };
  const context = { numUsers: 7, numItems: 9 };

  test("NeuMF: passes as is, fails with any one of several parameters' gradients zeroed or halved", () => {
    const model = createModel({ kind: "neumf", gmfDim: 4, mlpSizes: [6, 5], seed: 2, initStd: 0.5 }, context);
    gradCheck(() => model.loss(batch), model.parameters());
    for (const name of ["userMlp.weight", "itemGmf.weight", "mlp.layers.0.bias"]) {
      const param = named(model.parameters(), name);
      for (const factor of [0, 0.5]) {
        assert.throws(
          () =>
            gradCheck(
              withBrokenGradient(() => model.loss(batch), param, factor),
              model.parameters(),
            ),
          new RegExp(`gradient mismatch for input \\d+ \\(${name.replaceAll(".", "\\.")}\\)`),
          `${name} × ${factor}`,
        );
      }
    }
  });

  test("SASRec: fails with the second block's query weights' gradient zeroed", () => {
    const model = new SASRec(
      { dim: 4, blocks: 2, heads: 2, maxLength: 4, dropout: 0, seed: 5, activation: "gelu" },
      tinyContext(),
    );
    const users = new Int32Array([0, 3]);
    const windows = sequenceWindows(model.context.histories!, users, new Int32Array([3, 9]), 4);
    const draws = [4, 0, 6, 5, 3, 1];
    const loss = () => {
      let d = 0;
      return sequenceLoss(model, users, windows.inputs, windows.targets, () => draws[d++ % draws.length]!, new Rng(1), {
        kind: "softmax",
        negatives: 3,
      })!;
    };
    const options = { eps: 3e-3, maxElements: 12 };
    gradCheck(loss, model.parameters(), options);
    const query = named(model.parameters(), "blocks.1.attention.query.weight");
    assert.throws(
      () => gradCheck(withBrokenGradient(loss, query, 0), model.parameters(), options),
      /gradient mismatch for input \d+ \(blocks\.1\.attention\.query\.weight\)/,
    );
  });
});
