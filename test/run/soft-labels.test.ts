import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { prepareData } from "../../src/run/data.js";
import { feasibleLabelNegatives } from "../../src/run/soft-labels.js";

const dataset = generateEcommerce({ users: 120, items: 80, events: 3000, seed: 4 });
const prepared = prepareData(dataset);
const { context } = prepared;

describe("feasibleLabelNegatives", () => {
  test("leaves room for the top-K beside the busiest user's items", () => {
    let maxSeen = 0;
    for (let u = 0; u < context.numUsers; u++) maxSeen = Math.max(maxSeen, prepared.trainSeen.count(u));
    assert.equal(feasibleLabelNegatives(prepared, 10, 5), Math.min(5, context.numItems - maxSeen - 11));
    assert.equal(feasibleLabelNegatives(prepared, 10, 10_000), context.numItems - maxSeen - 11);
  });
});
