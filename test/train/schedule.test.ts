import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SGD } from "../../src/engine/optim.js";
import { createSchedule, ExponentialLR, LinearWarmup, StepLR, type Schedule } from "../../src/train/schedule.js";
import { Tensor } from "../../src/engine/tensor.js";

function optimizer(lr: number): SGD {
  return new SGD([Tensor.parameter([1], () => {})], { lr });
}

/** The lr before any step() and after each of `steps` step() calls, checking the optimiser follows. */
function sequence(schedule: Schedule, opt: { lr: number }, steps: number): number[] {
  const lrs = [schedule.lr];
  assert.equal(opt.lr, schedule.lr);
  for (let i = 0; i < steps; i++) {
    schedule.step();
    assert.equal(opt.lr, schedule.lr, "the schedule sets optimizer.lr");
    lrs.push(schedule.lr);
  }
  return lrs;
}

function assertSequence(actual: number[], expected: number[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((lr, i) =>
    assert.ok(Math.abs(lr - expected[i]!) <= 1e-12, `lr[${i}] = ${lr}, expected ${expected[i]}`),
  );
}

describe("learning-rate schedules", () => {
  test("StepLR multiplies by gamma every stepSize steps", () => {
    const opt = optimizer(0.8);
    const lrs = sequence(new StepLR(opt, { stepSize: 2, gamma: 0.5 }), opt, 6);
    assertSequence(lrs, [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1]);
  });

  test("StepLR's gamma defaults to 0.1", () => {
    const opt = optimizer(1);
    assertSequence(sequence(new StepLR(opt, { stepSize: 1 }), opt, 2), [1, 0.1, 0.01]);
  });

  test("ExponentialLR multiplies by gamma every step", () => {
    const opt = optimizer(2);
    assertSequence(sequence(new ExponentialLR(opt, { gamma: 0.9 }), opt, 3), [2, 1.8, 1.62, 1.458]);
  });

  test("LinearWarmup ramps from 0 to the base lr, then holds it", () => {
    const opt = optimizer(0.4);
    const warmup = new LinearWarmup(opt, { warmupSteps: 4 });
    assert.equal(opt.lr, 0, "the first step after building runs at lr 0");
    assertSequence(sequence(warmup, opt, 6), [0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4]);
  });

  test("LinearWarmup hands over to its inner schedule, which starts from the base lr", () => {
    const opt = optimizer(1);
    const warmup = new LinearWarmup(opt, { warmupSteps: 2, then: new ExponentialLR(opt, { gamma: 0.5 }) });
    assertSequence(sequence(warmup, opt, 5), [0, 0.5, 1, 0.5, 0.25, 0.125]);
  });

  test("the optimiser steps with the lr the schedule set", () => {
    const param = Tensor.parameter([1], (d) => d.fill(1));
    const opt = new SGD([param], { lr: 1 });
    const schedule = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    for (let i = 0; i < 2; i++) {
      param.grad ??= Tensor.zeros([1], { persistent: true });
      param.grad.data[0] = 1;
      opt.step();
      schedule.step();
    }
    assert.equal(param.data[0], 1 - 1 - 0.5);
  });

  test("createSchedule builds the schedule a plain spec describes", () => {
    const opt = optimizer(1);
    const spec = { kind: "warmup", warmupSteps: 2, then: { kind: "exponential", gamma: 0.5 } } as const;
    const schedule = createSchedule(structuredClone(spec), opt);
    assert.ok(schedule instanceof LinearWarmup && schedule.then instanceof ExponentialLR);
    assertSequence(sequence(schedule, opt, 5), [0, 0.5, 1, 0.5, 0.25, 0.125]);
    assert.ok(createSchedule({ kind: "step", stepSize: 3 }, optimizer(1)) instanceof StepLR);
    assert.throws(() => createSchedule({ kind: "cosine" } as never, opt), /unknown schedule kind "cosine"/);
  });

  test("rejects invalid settings", () => {
    const opt = optimizer(1);
    assert.throws(() => new StepLR(opt, { stepSize: 0 }), /stepSize must be a positive integer/);
    assert.throws(() => new ExponentialLR(opt, { gamma: 0 }), /gamma must be positive/);
    assert.throws(() => new LinearWarmup(opt, { warmupSteps: 1.5 }), /warmupSteps must be a positive integer/);
  });
});
