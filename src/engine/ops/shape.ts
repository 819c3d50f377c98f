// Shape ops: concatenation, slicing, and the dot product of two vectors.
import { Tensor, accumulate, record, sizeOf, type Shape } from "../tensor.js";

function fmt(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Concatenate tensors along `axis` (negative counts from the end; -1 is the last axis, which is how
 * models join embeddings). Every input has the same rank and the same dims except along `axis`.
 */
export function concat(tensors: readonly Tensor[], axis = -1): Tensor {
  const first = tensors[0];
  if (!first) throw new RangeError("concat: needs at least one tensor");
  const rank = first.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (rank === 0 || !Number.isInteger(ax) || ax < 0 || ax >= rank) {
    throw new RangeError(`concat: axis ${axis} is out of range for shape ${fmt(first.shape)}`);
  }
  for (const t of tensors) {
    if (t.shape.length !== rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new RangeError(`concat: shapes ${tensors.map((u) => fmt(u.shape)).join(", ")} differ outside axis ${ax}`);
    }
  }
  // View every input as [outer, width]: outer counts the dims before the axis, width the rest.
  const outer = sizeOf(first.shape.slice(0, ax));
  const widths = tensors.map((t) => sizeOf(t.shape.slice(ax)));
  const outWidth = widths.reduce((s, w) => s + w, 0);
  const shape = first.shape.map((d, i) => (i === ax ? tensors.reduce((s, t) => s + t.shape[ax]!, 0) : d));
  const k = first.rt.kernels;
  const out = Tensor.empty(shape);
  const offsets: number[] = [];
  let offset = 0;
  tensors.forEach((t, i) => {
    offsets.push(offset);
    k.copyBlock(t.ptr, widths[i]!, out.ptr + offset * 4, outWidth, outer, widths[i]!);
    offset += widths[i]!;
  });
  return record(out, tensors, (g) => {
    tensors.forEach((t, i) => {
      if (!t.requiresGrad) return;
      const gt = Tensor.empty(t.shape);
      k.copyBlock(g.ptr + offsets[i]! * 4, outWidth, gt.ptr, widths[i]!, outer, widths[i]!);
      accumulate(t, gt);
    });
  });
}

function checkRange(op: string, x: Tensor, dim: number, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > dim) {
    throw new RangeError(`${op}: range [${start}, ${end}) does not fit in ${dim} (shape ${fmt(x.shape)})`);
  }
}

/** Columns start..end-1 of the last dimension: [..., n] → [..., end - start]. */
export function sliceLastDim(x: Tensor, start: number, end: number): Tensor {
  if (x.shape.length < 1) throw new RangeError("sliceLastDim: needs at least one dimension, got a scalar");
  const n = x.shape.at(-1)!;
  checkRange("sliceLastDim", x, n, start, end);
  const width = end - start;
  const rows = n === 0 ? 0 : x.size / n;
  const k = x.rt.kernels;
  const out = Tensor.empty([...x.shape.slice(0, -1), width]);
  k.copyBlock(x.ptr + start * 4, n, out.ptr, width, rows, width);
  return record(out, [x], (g) => {
    const gx = Tensor.zeros(x.shape);
    k.copyBlock(g.ptr, width, gx.ptr + start * 4, n, rows, width);
    accumulate(x, gx);
  });
}

/** Rows start..end-1 of the first dimension: [rows, ...rest] → [end - start, ...rest]. */
export function sliceRows(x: Tensor, start: number, end: number): Tensor {
  if (x.shape.length < 1) throw new RangeError("sliceRows: needs at least one dimension, got a scalar");
  checkRange("sliceRows", x, x.shape[0]!, start, end);
  const rowSize = sizeOf(x.shape.slice(1));
  const k = x.rt.kernels;
  const out = Tensor.empty([end - start, ...x.shape.slice(1)]);
  k.copyBlock(x.ptr + start * rowSize * 4, 0, out.ptr, 0, 1, out.size);
  return record(out, [x], (g) => {
    const gx = Tensor.zeros(x.shape);
    k.copyBlock(g.ptr, 0, gx.ptr + start * rowSize * 4, 0, 1, out.size);
    accumulate(x, gx);
  });
}

/** Dot product of two vectors of the same length → scalar []. */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 1 || b.shape.length !== 1 || a.size !== b.size) {
    throw new RangeError(`dot: needs two vectors of the same length, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const k = a.rt.kernels;
  const out = Tensor.from([k.dot(a.ptr, b.ptr, a.size)], []);
  return record(out, [a, b], (g) => {
    const gs = g.data[0]!;
    if (a.requiresGrad) {
      const ga = Tensor.empty(a.shape);
      k.scale(b.ptr, gs, ga.ptr, a.size);
      accumulate(a, ga);
    }
    if (b.requiresGrad) {
      const gb = Tensor.empty(b.shape);
      k.scale(a.ptr, gs, gb.ptr, b.size);
      accumulate(b, gb);
    }
  });
}
