import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import {
  AttentionPooling,
  Dropout,
  Embedding,
  EmbeddingBag,
  Linear,
  MLP,
  Module,
  ModuleList,
  Sequential,
} from "../../src/engine/nn.js";
import { Rng } from "../../src/engine/random.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

/** A fixed linear read-out so the loss weighs every output element differently. */
function readout(out: Tensor, seed: number): Tensor {
  const w = Array.from({ length: out.size }, (_, i) => Math.sin(seed + i * 1.3));
  return ops.sum(ops.mul(out, Tensor.from(w, out.shape)));
}

class TwoTower extends Module {
  readonly users: Embedding;
  readonly history: EmbeddingBag;
  readonly pool: AttentionPooling;
  readonly mlp: MLP;
  readonly scale: Tensor;

  constructor(rng: Rng) {
    super();
    this.users = this.child("users", new Embedding(10, 4, { rng }));
    this.scale = this.newParam("scale", [1], (d) => d.fill(1));
    this.history = this.child("history", new EmbeddingBag(20, 4, { rng, mode: "sum", sparse: false }));
    this.mlp = this.child("mlp", new MLP([4, 8, 3], { rng, dropout: 0.5 }));
    this.pool = this.child("pool", new AttentionPooling(4, { rng }));
  }
}

const twoTowerNames = [
  "scale",
  "users.weight",
  "history.weight",
  "mlp.layers.0.weight",
  "mlp.layers.0.bias",
  "mlp.layers.1.weight",
  "mlp.layers.1.bias",
  "pool.query",
];

describe("Module", () => {
  test("namedParameters: own parameters first, then children in registration order, dotted names", () => {
    const model = new TwoTower(new Rng(1));
    assert.deepEqual(
      model.namedParameters().map(([name]) => name),
      twoTowerNames,
    );
    for (const [name, t] of model.namedParameters()) assert.equal(t.name, name);
    assert.deepEqual(
      model.mlp.namedParameters().map(([name]) => name),
      ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"],
    );
    assert.deepEqual(
      model.namedChildren().map(([name]) => name),
      ["users", "history", "mlp", "pool"],
    );
    assert.deepEqual(model.children(), [model.users, model.history, model.mlp, model.pool]);
    assert.deepEqual(
      model.parameters(),
      model.namedParameters().map(([, t]) => t),
    );
  });

  test("a child filled after registration still gets full names", () => {
    class Outer extends Module {
      readonly list = this.child("blocks", new ModuleList<Linear>());
      constructor() {
        super();
        this.list.push(new Linear(2, 2, { rng: new Rng(0), bias: false }));
      }
    }
    class Root extends Module {
      readonly outer = this.child("outer", new Outer());
    }
    const root = new Root();
    assert.equal(root.outer.list.at(0).weight.name, "outer.blocks.0.weight");
    assert.deepEqual(
      root.namedParameters().map(([n]) => n),
      ["outer.blocks.0.weight"],
    );
  });

  test("a module shared in two places contributes its parameters once", () => {
    const shared = new Linear(3, 2, { rng: new Rng(0) });
    const seq = new Sequential([shared, shared]);
    assert.equal(seq.parameters().length, 2);
    assert.equal(seq.parameterCount(), 8);
  });

  test("parameterCount and parameterBytes", () => {
    const model = new TwoTower(new Rng(1));
    const expected = 1 + 10 * 4 + 20 * 4 + (4 * 8 + 8) + (8 * 3 + 3) + 4;
    assert.equal(model.parameterCount(), expected);
    assert.equal(model.parameterBytes(), expected * 4);
  });

  test("the same seed builds the same parameters, another seed different ones", () => {
    const values = (seed: number) => new TwoTower(new Rng(seed)).parameters().map((t) => Array.from(t.data));
    assert.deepEqual(values(7), values(7));
    assert.notDeepEqual(values(7), values(8));
  });

  test("rejects invalid and duplicate names", () => {
    class Bad extends Module {
      constructor(name: string, twice: boolean) {
        super();
        this.newParam(name, [1], () => {});
        if (twice) this.child(name, new Dropout(0, new Rng(0)));
      }
    }
    assert.throws(() => new Bad("a.b", false), /not a valid name/);
    assert.throws(() => new Bad("", false), /not a valid name/);
    assert.throws(() => new Bad("w", true), /already registered/);
  });

  test("train() and eval() propagate to every sub-module", () => {
    const model = new TwoTower(new Rng(1));
    assert.equal(model.mlp.dropout!.training, true);
    assert.equal(model.eval(), model);
    assert.ok([model, model.mlp, model.mlp.layers, model.mlp.dropout!, model.pool].every((m) => !m.training));
    model.train();
    assert.ok(model.mlp.dropout!.training && model.mlp.layers.at(1).training);
  });
});

describe("layers", () => {
  test("Embedding: normal init with the given std, sparse by default", () => {
    const emb = new Embedding(500, 20, { rng: new Rng(3), std: 0.05 });
    assert.equal(emb.weight.sparse, true);
    assert.equal(new Embedding(2, 2, { rng: new Rng(3), sparse: false }).weight.sparse, false);
    const d = emb.weight.data;
    const std = Math.sqrt(d.reduce((s, v) => s + v * v, 0) / d.length);
    assert.ok(Math.abs(std - 0.05) < 0.003, `std ${std}`);
    const out = emb.forward(new Int32Array([4, 499]));
    assert.deepEqual(Array.from(out.data.subarray(20, 40)), Array.from(d.subarray(499 * 20, 500 * 20)));
    endStep();
  });

  test("EmbeddingBag pools like ops.embeddingBag (default mode mean)", () => {
    const bag = new EmbeddingBag(6, 3, { rng: new Rng(4) });
    assert.equal(bag.mode, "mean");
    const ids = new Int32Array([1, 2, 5]);
    const offsets = new Int32Array([0, 2, 3]);
    const out = bag.forward(ids, offsets);
    assert.deepEqual(out.toArray(), ops.embeddingBag(bag.weight, ids, offsets, "mean").toArray());
    assert.deepEqual(out.shape, [3, 3]);
    endStep();
  });

  test("Linear: PyTorch init bounds, y = x Wᵀ + b, gradients match finite differences", () => {
    const layer = new Linear(16, 5, { rng: new Rng(5) });
    const bound = 1 / Math.sqrt(16);
    assert.ok(layer.weight.data.every((v) => Math.abs(v) <= bound));
    assert.ok(layer.bias!.data.every((v) => Math.abs(v) <= bound));
    assert.deepEqual(layer.weight.shape, [5, 16]);
    const x = leaf([3, 16], 9);
    const y = layer.forward(x).data;
    const w = layer.weight.data;
    for (let r = 0; r < 3; r++) {
      for (let o = 0; o < 5; o++) {
        let s = layer.bias!.data[o]!;
        for (let i = 0; i < 16; i++) s += x.data[r * 16 + i]! * w[o * 16 + i]!;
        assert.ok(Math.abs(y[r * 5 + o]! - s) < 1e-5);
      }
    }
    endStep();
    gradCheck(() => readout(layer.forward(x), 1), [layer.weight, layer.bias!, x]);
    assert.equal(new Linear(4, 2, { rng: new Rng(0), bias: false }).bias, null);
  });

  for (const activation of ["tanh", "gelu"] as const) {
    test(`MLP (${activation}, final activation) gradients match finite differences`, () => {
      const mlp = new MLP([5, 7, 6, 2], { rng: new Rng(6), activation, finalActivation: true });
      const x = leaf([4, 5], 10);
      gradCheck(() => readout(mlp.forward(x), 2), [...mlp.parameters(), x]);
    });
  }

  test("MLP with relu matches a JS reference (no activation after the last layer)", () => {
    const mlp = new MLP([3, 4, 2], { rng: new Rng(7) });
    const x = leaf([2, 3], 11);
    const out = mlp.forward(x).toArray();
    const dense = (input: number[], layer: Linear, relu: boolean): number[] => {
      const [outF, inF] = layer.weight.shape as [number, number];
      const rows = input.length / inF;
      const res: number[] = [];
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outF; o++) {
          let s = layer.bias!.data[o]!;
          for (let i = 0; i < inF; i++) s += input[r * inF + i]! * layer.weight.data[o * inF + i]!;
          res.push(relu ? Math.max(0, s) : s);
        }
      }
      return res;
    };
    const expected = dense(dense(x.toArray(), mlp.layers.at(0), true), mlp.layers.at(1), false);
    out.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5));
    assert.ok(
      expected.some((v) => v < 0),
      "the last layer is linear",
    );
    endStep();
  });

  test("a small MLP learns XOR end to end", () => {
    const mlp = new MLP([2, 8, 1], { rng: new Rng(8), activation: "tanh" });
    const x = Tensor.from([0, 0, 0, 1, 1, 0, 1, 1], [4, 2], { persistent: true });
    const target = Tensor.from([0, 1, 1, 0], [4, 1], { persistent: true });
    const loss = () => {
      const err = ops.sub(mlp.forward(x), target);
      return ops.mean(ops.mul(err, err));
    };
    const first = loss().item();
    endStep();
    let last = first;
    for (let step = 0; step < 500; step++) {
      for (const p of mlp.parameters()) p.grad = null;
      const l = loss();
      last = l.item();
      l.backward();
      for (const p of mlp.parameters()) {
        const d = p.data;
        const g = p.grad!.data;
        for (let i = 0; i < d.length; i++) d[i]! -= 0.2 * g[i]!;
      }
      endStep();
    }
    assert.ok(first > 0.2 && last < 0.02, `loss ${first} → ${last}`);
  });

  test("Dropout: inverted scaling in training, identity in eval", () => {
    const dropout = new Dropout(0.25, new Rng(9));
    const x = Tensor.from(new Array<number>(4000).fill(2), [40, 100], { persistent: true });
    const y = dropout.forward(x).toArray();
    const zeros = y.filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / 4000 - 0.25) < 0.03, `dropped ${zeros}`);
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 2 / 0.75) < 1e-6));
    endStep();
    dropout.eval();
    assert.equal(dropout.forward(x), x);
    assert.throws(() => new Dropout(1.5, new Rng(0)), RangeError);
  });

  test("Dropout: every call draws a fresh mask, independent of the last and across neighbouring elements", () => {
    const p = 0.5;
    const n = 20000;
    const dropout = new Dropout(p, new Rng(21));
    const x = Tensor.from(new Array<number>(n).fill(1), [n], { persistent: true });
    const masks = [0, 1, 2].map(() => {
      const y = dropout.forward(x).toArray();
      endStep();
      return y.map((v) => (v === 0 ? 1 : 0));
    });
    // Independent masks drop the same element with probability p², agree on it with p² + (1 − p)².
    const share = (count: (i: number) => boolean, length = n): number => {
      let c = 0;
      for (let i = 0; i < length; i++) if (count(i)) c++;
      return c / length;
    };
    for (const [a, b] of [
      [0, 1],
      [1, 2],
      [0, 2],
    ] as const) {
      const both = share((i) => masks[a]![i] === 1 && masks[b]![i] === 1);
      assert.ok(Math.abs(both - p * p) < 0.02, `calls ${a} and ${b} drop ${both} of the elements together`);
    }
    for (const lag of [1, 4, 50]) {
      const both = share((i) => masks[0]![i] === 1 && masks[0]![i + lag] === 1, n - lag);
      assert.ok(Math.abs(both - p * p) < 0.02, `elements ${lag} apart are dropped together ${both} of the time`);
    }
  });

  test("Dropout gradient is the mask", () => {
    const dropout = new Dropout(0.5, new Rng(10));
    const x = leaf([2, 50], 12);
    const y = dropout.forward(x);
    ops.sum(y).backward();
    const g = x.grad!.data;
    const yd = y.data;
    for (let i = 0; i < 100; i++) assert.equal(g[i], yd[i] === 0 ? 0 : 2);
    endStep();
  });

  test("eval() disables the MLP's dropout: same output as the same MLP without dropout", () => {
    const plain = new MLP([6, 16, 3], { rng: new Rng(11) });
    const dropped = new MLP([6, 16, 3], { rng: new Rng(11), dropout: 0.5 });
    const x = leaf([5, 6], 13);
    const reference = plain.forward(x).toArray();
    assert.notDeepEqual(dropped.forward(x).toArray(), reference);
    dropped.eval();
    assert.deepEqual(dropped.forward(x).toArray(), reference);
    assert.deepEqual(dropped.forward(x).toArray(), reference);
    endStep();
  });

  test("AttentionPooling: learned query gets gradients through a sparse embedding", () => {
    const rng = new Rng(12);
    const items = new Embedding(9, 4, { rng, std: 1 });
    const pool = new AttentionPooling(4, { rng, std: 1 });
    const ids = new Int32Array([1, 8, 3, 3, 0]);
    const offsets = new Int32Array([0, 2, 2]);
    const out = pool.forward(items.forward(ids), offsets);
    assert.deepEqual(out.shape, [3, 4]);
    endStep();
    gradCheck(() => readout(pool.forward(items.forward(ids), offsets), 3), [pool.query, items.weight]);
    assert.ok(items.weight.sparseGrad && pool.query.grad);
  });
});
