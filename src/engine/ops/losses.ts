// Losses, each a scalar mean over the batch: binary and softmax cross-entropy, BPR, distillation KL, MSE.
import { Tensor, record, accumulate, type Shape } from "../tensor.js";
import { logSigmoid } from "./activations.js";
import { mean } from "./reduce.js";
import { scale, square, sub } from "./arith.js";

function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

function sameDims(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A constant operand (labels, weights) as a tensor with `like`'s shape; checks the element count. */
function constantLike(op: string, what: string, values: Tensor | ArrayLike<number>, like: Tensor): Tensor {
  const size = values instanceof Tensor ? values.size : values.length;
  if (size !== like.size) {
    const shape = values instanceof Tensor ? fmt(values.shape) : `${size} values`;
    throw new RangeError(`${op}: ${what} ${shape} do not match ${fmt(like.shape)}`);
  }
  return values instanceof Tensor ? values : Tensor.from(values, like.shape);
}

/** The [rows, classes] view of 2-D (or higher) logits. */
function classRows(op: string, logits: Tensor): { rows: number; classes: number } {
  if (logits.shape.length < 2) throw new RangeError(`${op}: logits must be [batch, classes], got ${fmt(logits.shape)}`);
  const classes = logits.shape.at(-1)!;
  return { rows: classes === 0 ? 0 : logits.size / classes, classes };
}

/**
 * Binary cross-entropy on logits, mean over every element: w·(max(x, 0) - x·t + log(1 + e^-|x|)), stable
 * for any |x|. Targets may be soft labels in [0, 1]; optional per-element weights scale each term (the mean
 * still divides by the element count, as in PyTorch). Targets and weights are constants (no gradient).
 */
export function bceWithLogits(
  logits: Tensor,
  targets: Tensor | ArrayLike<number>,
  weights?: Tensor | ArrayLike<number>,
): Tensor {
  const t = constantLike("bceWithLogits", "targets", targets, logits);
  const w = weights === undefined ? undefined : constantLike("bceWithLogits", "weights", weights, logits);
  const k = logits.rt.kernels;
  const n = logits.size;
  const out = Tensor.from([k.bceWithLogitsSum(logits.ptr, t.ptr, w?.ptr ?? 0, n) / n], []);
  return record(out, [logits], (g) => {
    const gx = Tensor.empty(logits.shape);
    k.bceWithLogitsBackward(logits.ptr, t.ptr, w?.ptr ?? 0, n, g.data[0]! / n, gx.ptr);
    accumulate(logits, gx);
  });
}

/** Bayesian personalised ranking: -mean(log sigmoid(pos - neg)) over paired positive and negative scores. */
export function bprLoss(pos: Tensor, neg: Tensor): Tensor {
  return scale(mean(logSigmoid(sub(pos, neg))), -1);
}

/**
 * Softmax cross-entropy of logits [B, C], mean over the batch. `target` is either class ids (Int32Array of
 * length B) or a [B, C] tensor of target probabilities (soft targets, treated as constants).
 */
export function softmaxCrossEntropy(logits: Tensor, target: Int32Array | Tensor): Tensor {
  const op = "softmaxCrossEntropy";
  const { rows, classes } = classRows(op, logits);
  const rt = logits.rt;
  const k = rt.kernels;
  const logProbs = Tensor.empty(logits.shape);
  k.logSoftmaxRows(logits.ptr, logProbs.ptr, rows, classes, 1);
  if (target instanceof Tensor) {
    if (!sameDims(target.shape, logits.shape)) {
      throw new RangeError(`${op}: target ${fmt(target.shape)} does not match logits ${fmt(logits.shape)}`);
    }
    const out = Tensor.from([-k.dot(target.ptr, logProbs.ptr, logits.size) / rows], []);
    return record(out, [logits], (g) => {
      const gx = Tensor.empty(logits.shape);
      k.softCrossEntropyBackward(logProbs.ptr, target.ptr, rows, classes, g.data[0]! / rows, gx.ptr);
      accumulate(logits, gx);
    });
  }
  if (target.length !== rows) {
    throw new RangeError(`${op}: ${target.length} class ids for logits ${fmt(logits.shape)}`);
  }
  const lp = logProbs.data;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const c = target[r]!;
    if (c < 0 || c >= classes) throw new RangeError(`${op}: class id ${c} at row ${r} is outside 0..${classes - 1}`);
    total -= lp[r * classes + c]!;
  }
  const ids = rt.scratchI32(target);
  const out = Tensor.from([total / rows], []);
  return record(out, [logits], (g) => {
    const gx = Tensor.empty(logits.shape);
    k.crossEntropyBackward(logProbs.ptr, ids, rows, classes, g.data[0]! / rows, gx.ptr);
    accumulate(logits, gx);
  });
}

/**
 * Sampled softmax cross-entropy: per row r, −log softmax at the positive over the candidates
 * [positive[r], negatives[r, :]], mean over the rows. The same as softmaxCrossEntropy of the concatenated
 * logits with class 0 as the target, without building the concatenation (with many negatives the copies
 * in and out of it cost as much as the softmax). positive: [rows] or [rows, 1]; negatives: [rows, n].
 */
export function sampledSoftmaxCrossEntropy(positive: Tensor, negatives: Tensor): Tensor {
  const op = "sampledSoftmaxCrossEntropy";
  const { rows, classes } = classRows(op, negatives);
  if (positive.size !== rows || positive.shape.length > 2 || (positive.shape.length === 2 && positive.shape[1] !== 1)) {
    throw new RangeError(
      `${op}: positive logits ${fmt(positive.shape)} do not match negatives ${fmt(negatives.shape)}`,
    );
  }
  const k = negatives.rt.kernels;
  const probs = Tensor.empty(negatives.shape);
  const positiveProbs = Tensor.empty(positive.shape);
  const total = k.sampledSoftmaxRows(positive.ptr, negatives.ptr, rows, classes, probs.ptr, positiveProbs.ptr);
  const out = Tensor.from([rows === 0 ? 0 : total / rows], []);
  return record(out, [positive, negatives], (g) => {
    const gPositive = Tensor.empty(positive.shape);
    const gNegatives = Tensor.empty(negatives.shape);
    k.sampledSoftmaxBackward(
      probs.ptr,
      positiveProbs.ptr,
      rows,
      classes,
      g.data[0]! / rows,
      gPositive.ptr,
      gNegatives.ptr,
    );
    accumulate(positive, gPositive);
    accumulate(negatives, gNegatives);
  });
}

/**
 * Hinton-style distillation loss: T² · mean over rows of KL(softmax(teacher / T) ‖ softmax(student / T)).
 * The T² keeps gradient magnitudes comparable across temperatures. Only the student receives a gradient.
 */
export function klDivergence(studentLogits: Tensor, teacherLogits: Tensor, temperature = 1): Tensor {
  const op = "klDivergence";
  const { rows, classes } = classRows(op, studentLogits);
  if (!sameDims(teacherLogits.shape, studentLogits.shape)) {
    throw new RangeError(
      `${op}: teacher ${fmt(teacherLogits.shape)} does not match student ${fmt(studentLogits.shape)}`,
    );
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`${op}: temperature must be a positive finite number, got ${temperature}`);
  }
  const k = studentLogits.rt.kernels;
  const n = studentLogits.size;
  const logQ = Tensor.empty(studentLogits.shape);
  const logP = Tensor.empty(studentLogits.shape);
  k.logSoftmaxRows(studentLogits.ptr, logQ.ptr, rows, classes, 1 / temperature);
  k.logSoftmaxRows(teacherLogits.ptr, logP.ptr, rows, classes, 1 / temperature);
  const t2 = temperature * temperature;
  const out = Tensor.from([(t2 * k.klDivSum(logP.ptr, logQ.ptr, n)) / rows], []);
  return record(out, [studentLogits], (g) => {
    // d/dstudent = T² / rows · (q - p) / T
    const gx = Tensor.empty(studentLogits.shape);
    k.klDivBackward(logP.ptr, logQ.ptr, n, (g.data[0]! * temperature) / rows, gx.ptr);
    accumulate(studentLogits, gx);
  });
}

/** Mean squared error over every element; the target gets a gradient too when it requires one. */
export function mse(pred: Tensor, target: Tensor | ArrayLike<number>): Tensor {
  const t = constantLike("mse", "target", target, pred);
  if (!sameDims(t.shape, pred.shape)) {
    throw new RangeError(`mse: target ${fmt(t.shape)} does not match prediction ${fmt(pred.shape)}`);
  }
  return mean(square(sub(pred, t)));
}
