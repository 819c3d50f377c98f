// Elementwise kernels over contiguous f32 arrays: four lanes at a time, then a scalar tail.

/** out[i] = a[i] + b[i] */
export function add(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out[i] = a[i] - b[i] */
export function sub(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.sub(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) - load<f32>(b + o));
  }
}

/** out[i] = a[i] * b[i] */
export function mul(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** out[i] = a[i] * s */
export function scale(a: usize, s: f32, out: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), sv));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) * s);
  }
}

/** y[i] += alpha * x[i] */
export function axpy(alpha: f32, x: usize, y: usize, n: i32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(v128.load(x + o), av)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

/** out[i] = v */
export function fill(out: usize, v: f32, n: i32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + ((<usize>i) << 2), vv);
  for (; i < n; i++) store<f32>(out + ((<usize>i) << 2), v);
}

/** Sum of a[0..n) with four partial sums (f32 lanes, f64 final). */
export function sum(a: usize, n: i32): f64 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(a + ((<usize>i) << 2)));
  let s: f64 =
    <f64>f32x4.extract_lane(acc, 0) +
    <f64>f32x4.extract_lane(acc, 1) +
    <f64>f32x4.extract_lane(acc, 2) +
    <f64>f32x4.extract_lane(acc, 3);
  for (; i < n; i++) s += <f64>load<f32>(a + ((<usize>i) << 2));
  return s;
}

/** out[i] = a[i] / b[i] */
export function div(a: usize, b: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.div(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) / load<f32>(b + o));
  }
}

/** out[i] = a[i] + s */
export function addScalar(a: usize, s: f32, out: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), sv));
  }
  for (; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, load<f32>(a + o) + s);
  }
}

// Broadcasting kernels over a [rows, n] view of `a`. `op` selects the operation:
// 0 add, 1 sub, 2 mul, 3 div (a branch per row, not per element).

@inline
function applyOp4(op: i32, x: v128, y: v128): v128 {
  if (op == 0) return f32x4.add(x, y);
  if (op == 1) return f32x4.sub(x, y);
  if (op == 2) return f32x4.mul(x, y);
  return f32x4.div(x, y);
}

@inline
function applyOp(op: i32, x: f32, y: f32): f32 {
  if (op == 0) return x + y;
  if (op == 1) return x - y;
  if (op == 2) return x * y;
  return x / y;
}

/** out[r, j] = a[r, j] (op) b[j]: `b` is one row of n values, tiled over every row of `a` */
export function binaryTiled(op: i32, a: usize, b: usize, out: usize, rows: i32, n: i32): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const ar = a + (<usize>r) * rowBytes;
    const or = out + (<usize>r) * rowBytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(or + o, applyOp4(op, v128.load(ar + o), v128.load(b + o)));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(or + o, applyOp(op, load<f32>(ar + o), load<f32>(b + o)));
    }
  }
}

/** out[r, j] = a[r, j] (op) b[r]: `b` holds one value per row of `a` (a scalar when rows is 1) */
export function binaryPerRow(op: i32, a: usize, b: usize, out: usize, rows: i32, n: i32): void {
  const rowBytes = (<usize>n) << 2;
  for (let r = 0; r < rows; r++) {
    const br = load<f32>(b + ((<usize>r) << 2));
    const bv = f32x4.splat(br);
    const ar = a + (<usize>r) * rowBytes;
    const or = out + (<usize>r) * rowBytes;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(or + o, applyOp4(op, v128.load(ar + o), bv));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      store<f32>(or + o, applyOp(op, load<f32>(ar + o), br));
    }
  }
}

/** Copy a rows × cols block between row-major buffers whose rows are `srcStride` / `dstStride` floats apart */
export function copyBlock(src: usize, srcStride: i32, dst: usize, dstStride: i32, rows: i32, cols: i32): void {
  const bytes = (<usize>cols) << 2;
  for (let r = 0; r < rows; r++) {
    memory.copy(dst + (((<usize>r) * <usize>dstStride) << 2), src + (((<usize>r) * <usize>srcStride) << 2), bytes);
  }
}
