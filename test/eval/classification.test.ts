import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { evaluateClassification } from "../../src/eval/classification.js";
import { auc, gauc, logLoss } from "../../src/eval/metrics.js";

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

describe("evaluateClassification", () => {
  test("reports AUC, GAUC by user, log loss and thresholded metrics", () => {
    const rows = {
      users: new Int32Array([0, 0, 0, 1, 1, 2]),
      items: new Int32Array([1, 2, 3, 1, 4, 5]),
      labels: new Uint8Array([1, 0, 0, 0, 1, 1]),
    };
    const probability = (user: number, item: number) => ((user * 7 + item * 3) % 10) / 10 + 0.05;
    const predict = (users: Int32Array, items: Int32Array) =>
      Float32Array.from(users, (user, k) => probability(user, items[k]!));
    const m = evaluateClassification(predict, rows, { batchSize: 4 });
    const p = Float32Array.from(rows.users, (user, k) => probability(user, rows.items[k]!));
    close(m["AUC"]!, auc(p, rows.labels));
    close(m["GAUC"]!, gauc(p, rows.labels, rows.users));
    close(m["LogLoss"]!, logLoss(p, rows.labels));
    const predicted = Array.from(p, (x) => (x >= 0.5 ? 1 : 0));
    const correct = predicted.filter((y, k) => y === rows.labels[k]).length;
    close(m["Accuracy"]!, correct / 6);
    assert.equal(m["count"], 6);
  });
});
