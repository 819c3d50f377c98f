// Arithmetic: binary ops with the broadcasting models need, and pointwise maps.
import { Tensor, accumulate, record, type Shape } from "../tensor.js";

/**
 * How the second operand of a binary op lines up with the first, both viewed as [rows, n]:
 * `tiled` repeats b (n values) over every row — same shape (rows = 1) or b equal to a's trailing dims;
 * `perRow` gives each row one value of b — a scalar b (rows = 1) or b of shape [..., 1] against [..., n].
 */
interface Broadcast {
  kind: "tiled" | "perRow";
  rows: number;
  n: number;
}

const OP_CODE = { add: 0, sub: 1, mul: 2, div: 3 } as const;
type BinaryOp = keyof typeof OP_CODE;

function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

function sameDims(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function broadcastOf(op: string, a: Tensor, b: Tensor): Broadcast {
  const as = a.shape;
  const bs = b.shape;
  if (sameDims(as, bs)) return { kind: "tiled", rows: 1, n: a.size };
  if (b.size === 1 && bs.length <= Math.max(as.length, 1)) return { kind: "perRow", rows: 1, n: a.size };
  if (bs.length < as.length && sameDims(as.slice(as.length - bs.length), bs)) {
    return { kind: "tiled", rows: a.size / b.size, n: b.size };
  }
  if (as.length >= 2 && bs.length === as.length && bs.at(-1) === 1 && sameDims(as.slice(0, -1), bs.slice(0, -1))) {
    return { kind: "perRow", rows: b.size, n: as.at(-1)! };
  }
  throw new RangeError(
    `${op}: cannot broadcast ${fmt(bs)} against ${fmt(as)} (b must have a's shape, be a scalar, ` +
      `equal a's trailing dims, or be a's shape with the last dim 1)`,
  );
}

/** out = a (op) b with b broadcast as described by `bc`, into a fresh tensor of a's shape. */
function apply(op: BinaryOp, a: Tensor, b: Tensor, bc: Broadcast): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  if (bc.kind === "tiled" && bc.rows === 1) k[op](a.ptr, b.ptr, out.ptr, a.size);
  else if (bc.kind === "tiled") k.binaryTiled(OP_CODE[op], a.ptr, b.ptr, out.ptr, bc.rows, bc.n);
  else k.binaryPerRow(OP_CODE[op], a.ptr, b.ptr, out.ptr, bc.rows, bc.n);
  return out;
}

/** Sum a gradient of a's shape back down to b's shape (undoing the broadcast). */
function reduceTo(b: Tensor, grad: Tensor, bc: Broadcast): Tensor {
  const k = b.rt.kernels;
  if (bc.kind === "tiled" && bc.rows === 1) return grad.viewAs(b.shape);
  const out = Tensor.empty(b.shape);
  if (bc.kind === "tiled") k.sumRows(grad.ptr, bc.rows, bc.n, out.ptr);
  else k.sumLastDim(grad.ptr, bc.rows, bc.n, out.ptr);
  return out;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const bc = broadcastOf(op, a, b);
  const k = a.rt.kernels;
  const out = apply(op, a, b, bc);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad) {
      // d/da: 1 for add and sub, b for mul, 1/b for div.
      accumulate(a, op === "add" || op === "sub" ? g : apply(op, g, b, bc));
    }
    if (b.requiresGrad) {
      let gb: Tensor;
      if (op === "add") gb = reduceTo(b, g, bc);
      else if (op === "sub") {
        const summed = reduceTo(b, g, bc);
        gb = Tensor.empty(b.shape);
        k.scale(summed.ptr, -1, gb.ptr, b.size);
      } else {
        // d/db: a for mul; -a/b² = -(g/b)·out/g for div, so the contribution is -(g/b)·out.
        const contrib = Tensor.empty(a.shape);
        if (op === "mul") k.mul(g.ptr, a.ptr, contrib.ptr, a.size);
        else {
          const gOverB = apply("div", g, b, bc);
          k.mul(gOverB.ptr, out.ptr, contrib.ptr, a.size);
          k.scale(contrib.ptr, -1, contrib.ptr, a.size);
        }
        gb = reduceTo(b, contrib, bc);
      }
      accumulate(b, gb);
    }
  });
}

/**
 * a + b. b may have a's shape, be a scalar ([] or [1]), equal a's trailing dims ([B, N] + [N] bias),
 * or be a's shape with the last dim 1 ([B, N] + [B, 1] per row); b's gradient is summed back to b's shape.
 */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", a, b);
}

/** a - b, broadcasting b as in `add`. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary("sub", a, b);
}

/** a ⊙ b (elementwise), broadcasting b as in `add`. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", a, b);
}

/** a / b (elementwise), broadcasting b as in `add`; division by zero gives ±inf or NaN as in IEEE. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binary("div", a, b);
}

/** a · s for a number s. */
export function scale(a: Tensor, s: number): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.scale(a.ptr, s, out.ptr, a.size);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.scale(g.ptr, s, ga.ptr, a.size);
    accumulate(a, ga);
  });
}

/** -a */
export function neg(a: Tensor): Tensor {
  return scale(a, -1);
}

/** a + s for a number s. */
export function addScalar(a: Tensor, s: number): Tensor {
  const out = Tensor.empty(a.shape);
  a.rt.kernels.addScalar(a.ptr, s, out.ptr, a.size);
  return record(out, [a], (g) => accumulate(a, g));
}

/** a² elementwise. */
export function square(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.mul(a.ptr, a.ptr, out.ptr, a.size);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.mul(g.ptr, a.ptr, ga.ptr, a.size);
    k.scale(ga.ptr, 2, ga.ptr, a.size);
    accumulate(a, ga);
  });
}

/** e^a elementwise (overflows to +inf above ~88.7, as float32 does). */
export function exp(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.pointwiseExp(a.ptr, out.ptr, a.size);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.mul(g.ptr, out.ptr, ga.ptr, a.size);
    accumulate(a, ga);
  });
}

/** Natural log elementwise. Like PyTorch it does not throw: log(0) is -inf and log of a negative is NaN. */
export function log(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.pointwiseLog(a.ptr, out.ptr, a.size);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.div(g.ptr, a.ptr, ga.ptr, a.size);
    accumulate(a, ga);
  });
}
