// Dense matrix multiply C[M,N] (+)= op(A)·op(B), row-major f32, in three layouts (NN, NT, TN).
//
// B is first packed into column panels of 8 (a caller-provided scratch buffer of matmulScratchBytes(k, n)
// bytes): panel p holds rows k = 0..K-1 of columns 8p..8p+7 contiguously, zero-padded past N. A 4×8
// micro-kernel then keeps a 4-row × 8-column block of C in eight v128 accumulators, streaming one packed
// panel row (two loads) and four broadcast A elements per step of k. Panels stay in L1 while every row block
// of a chunk of A passes over them; A is read in place through strides, so the same micro-kernel serves
// A[M,K] (NN, NT) and A[K,M]ᵀ (TN). Fewer than 4 rows (single-example inference) skip the packing and
// read B in place.

import { dotF32x4 } from "./rows";

/** Rows of C per micro-kernel tile. */
const MR: i32 = 4;
/** Columns of C per micro-kernel tile (one packed B panel). */
const NR: i32 = 8;
/** Floats of A per row chunk: a chunk of A rows stays in L2 while it passes over every panel. */
const CHUNK_FLOATS: i32 = 65536;
/**
 * Depth of one pass over K: B is packed and multiplied KC rows at a time, so that its panels stay in L1/L2
 * however deep the product (a weight gradient sums over every row of the batch: K in the thousands).
 */
const KC: i32 = 256;

/** Bytes of scratch the matmul kernels need for B of K rows and N columns (as laid out in C). */
export function matmulScratchBytes(k: i32, n: i32): i32 {
  return min(k, KC) * ((n + NR - 1) / NR) * NR * 4;
}

/** C[M,N] (+)= A[M,K]·B[K,N]; accumulate: 0 overwrites C, 1 adds into it. */
export function matmulNN(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (m < MR) {
    for (let i = 0; i < m; i++) {
      rowTimesMatrix(a + (<usize>i) * ((<usize>k) << 2), 4, b, k, n, c + (<usize>i) * ((<usize>n) << 2), accumulate);
    }
    return;
  }
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    packRows(b + (<usize>p0) * ((<usize>n) << 2), kc, n, scratch);
    multiplyPacked(a + ((<usize>p0) << 2), (<usize>k) << 2, 4, scratch, c, m, kc, n, p0 > 0 ? 1 : accumulate);
  }
}

/** C[M,N] (+)= A[M,K]·B[N,K]ᵀ; accumulate: 0 overwrites C, 1 adds into it. */
export function matmulNT(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (m < MR) {
    for (let i = 0; i < m; i++) {
      rowTimesTransposed(a + (<usize>i) * ((<usize>k) << 2), b, k, n, c + (<usize>i) * ((<usize>n) << 2), accumulate);
    }
    return;
  }
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    packTransposed(b + ((<usize>p0) << 2), (<usize>k) << 2, kc, n, scratch);
    multiplyPacked(a + ((<usize>p0) << 2), (<usize>k) << 2, 4, scratch, c, m, kc, n, p0 > 0 ? 1 : accumulate);
  }
}

/** C[M,N] (+)= A[K,M]ᵀ·B[K,N]; accumulate: 0 overwrites C, 1 adds into it. */
export function matmulTN(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32, accumulate: i32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (m < MR) {
    for (let i = 0; i < m; i++) {
      rowTimesMatrix(a + ((<usize>i) << 2), (<usize>m) << 2, b, k, n, c + (<usize>i) * ((<usize>n) << 2), accumulate);
    }
    return;
  }
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    packRows(b + (<usize>p0) * ((<usize>n) << 2), kc, n, scratch);
    multiplyPacked(a + (<usize>p0) * ((<usize>m) << 2), 4, (<usize>m) << 2, scratch, c, m, kc, n, p0 > 0 ? 1 : accumulate);
  }
}

/** out[r, :] += bias for r < rows */
export function addRowBias(out: usize, bias: usize, rows: i32, cols: i32): void {
  const rowBytes = (<usize>cols) << 2;
  for (let r = 0; r < rows; r++) {
    const row = out + (<usize>r) * rowBytes;
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = (<usize>j) << 2;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(bias + o)));
    }
    for (; j < cols; j++) {
      const o = (<usize>j) << 2;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(bias + o));
    }
  }
}

// ---- single rows (M < MR): packing B would cost as much as the multiply itself ----------------

/** c[N] (+)= a·B[K,N], where a's element p sits at a + p·kStride; B is read in place, 16 columns at a time. */
function rowTimesMatrix(a: usize, kStride: usize, b: usize, k: i32, n: i32, c: usize, accumulate: i32): void {
  const ldb = (<usize>n) << 2;
  let j = 0;
  for (; j + 16 <= n; j += 16) {
    let c0 = f32x4.splat(0);
    let c1 = f32x4.splat(0);
    let c2 = f32x4.splat(0);
    let c3 = f32x4.splat(0);
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let p = 0; p < k; p++) {
      const av = v128.load32_splat(pa);
      c0 = f32x4.add(c0, f32x4.mul(av, v128.load(pb)));
      c1 = f32x4.add(c1, f32x4.mul(av, v128.load(pb, 16)));
      c2 = f32x4.add(c2, f32x4.mul(av, v128.load(pb, 32)));
      c3 = f32x4.add(c3, f32x4.mul(av, v128.load(pb, 48)));
      pa += kStride;
      pb += ldb;
    }
    const out = c + ((<usize>j) << 2);
    storeRow(out, c0, c1, NR, accumulate);
    storeRow(out + 32, c2, c3, NR, accumulate);
  }
  for (; j + 4 <= n; j += 4) {
    let acc = f32x4.splat(0);
    let pa = a;
    let pb = b + ((<usize>j) << 2);
    for (let p = 0; p < k; p++) {
      acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
      pa += kStride;
      pb += ldb;
    }
    const out = c + ((<usize>j) << 2);
    v128.store(out, accumulate ? f32x4.add(acc, v128.load(out)) : acc);
  }
  for (; j < n; j++) {
    let sum: f32 = 0;
    for (let p = 0; p < k; p++) sum += load<f32>(a + (<usize>p) * kStride) * load<f32>(b + (<usize>p) * ldb + ((<usize>j) << 2));
    storeLane(c + ((<usize>j) << 2), sum, accumulate);
  }
}

/** c[N] (+)= a·B[N,K]ᵀ: dot products of a with four rows of B at a time, reduced with one 4×4 transpose. */
function rowTimesTransposed(a: usize, b: usize, k: i32, n: i32, c: usize, accumulate: i32): void {
  const ldb = (<usize>k) << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const b0 = b + (<usize>j) * ldb;
    const b1 = b0 + ldb;
    const b2 = b1 + ldb;
    const b3 = b2 + ldb;
    // Lane i of the result is a · row j + i of B.
    const sums = dotF32x4(b0, b1, b2, b3, a, k);
    const out = c + ((<usize>j) << 2);
    v128.store(out, accumulate ? f32x4.add(sums, v128.load(out)) : sums);
  }
  for (; j < n; j++) {
    const row = b + (<usize>j) * ldb;
    let sum: f32 = 0;
    for (let p = 0; p < k; p++) sum += load<f32>(a + ((<usize>p) << 2)) * load<f32>(row + ((<usize>p) << 2));
    storeLane(c + ((<usize>j) << 2), sum, accumulate);
  }
}

// ---- packing ------------------------------------------------------------------------------------

/** Pack B[K,N] (row-major) into panels of NR columns. */
function packRows(b: usize, k: i32, n: i32, dst: usize): void {
  const fullPanels = n / NR;
  const tail = n - fullPanels * NR;
  const panelBytes = (<usize>k) * (<usize>NR << 2);
  const rowBytes = (<usize>n) << 2;
  for (let p = 0; p < k; p++) {
    const src = b + (<usize>p) * rowBytes;
    let out = dst + (<usize>p) * (<usize>NR << 2);
    for (let q = 0; q < fullPanels; q++) {
      const s = src + (<usize>q) * (<usize>NR << 2);
      v128.store(out, v128.load(s));
      v128.store(out, v128.load(s, 16), 16);
      out += panelBytes;
    }
    if (tail > 0) {
      const s = src + (<usize>fullPanels) * (<usize>NR << 2);
      for (let j = 0; j < NR; j++) {
        store<f32>(out + ((<usize>j) << 2), j < tail ? load<f32>(s + ((<usize>j) << 2)) : 0);
      }
    }
  }
}

/** Transpose the 4×4 block of rows r0..r3, storing its columns as four rows `stride` bytes apart. */
@inline
function transposeRows(r0: v128, r1: v128, r2: v128, r3: v128, out: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + stride * 2, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + stride * 3, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Pack Bᵀ, where B is N rows of k floats `rowBytes` apart (the first k columns of a wider matrix), into panels
 * of NR columns (panel column c = row 8p+c of B).
 */
function packTransposed(b: usize, rowBytes: usize, k: i32, n: i32, dst: usize): void {
  const fullPanels = n / NR;
  const panelRow: usize = <usize>NR << 2;
  for (let q = 0; q < fullPanels; q++) {
    const src = b + (<usize>q) * (<usize>NR) * rowBytes;
    const panel = dst + (<usize>q) * (<usize>k) * panelRow;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const s = src + ((<usize>p) << 2);
      const out = panel + (<usize>p) * panelRow;
      transposeRows(
        v128.load(s),
        v128.load(s + rowBytes),
        v128.load(s + rowBytes * 2),
        v128.load(s + rowBytes * 3),
        out,
        panelRow,
      );
      const s4 = s + rowBytes * 4;
      transposeRows(
        v128.load(s4),
        v128.load(s4 + rowBytes),
        v128.load(s4 + rowBytes * 2),
        v128.load(s4 + rowBytes * 3),
        out + 16,
        panelRow,
      );
    }
    for (; p < k; p++) {
      const out = panel + (<usize>p) * panelRow;
      for (let j = 0; j < NR; j++) {
        store<f32>(out + ((<usize>j) << 2), load<f32>(src + (<usize>j) * rowBytes + ((<usize>p) << 2)));
      }
    }
  }
  const tail = n - fullPanels * NR;
  if (tail > 0) {
    const src = b + (<usize>fullPanels) * (<usize>NR) * rowBytes;
    const panel = dst + (<usize>fullPanels) * (<usize>k) * panelRow;
    for (let p = 0; p < k; p++) {
      const out = panel + (<usize>p) * panelRow;
      for (let j = 0; j < NR; j++) {
        const v: f32 = j < tail ? load<f32>(src + (<usize>j) * rowBytes + ((<usize>p) << 2)) : 0;
        store<f32>(out + ((<usize>j) << 2), v);
      }
    }
  }
}

// ---- compute ------------------------------------------------------------------------------------

/**
 * C[M,N] (+)= A·packed B, where A's element (i, p) sits at a + i·rowStride + p·kStride (bytes).
 * Rows are processed in chunks that fit L2; within a chunk each panel is swept by every row block.
 */
function multiplyPacked(
  a: usize,
  rowStride: usize,
  kStride: usize,
  packed: usize,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  accumulate: i32,
): void {
  const panels = (n + NR - 1) / NR;
  const panelBytes = (<usize>k) * (<usize>NR << 2);
  const ldc = (<usize>n) << 2;
  let chunkRows = (CHUNK_FLOATS / max(k, 1)) & ~(MR - 1);
  if (chunkRows < MR) chunkRows = MR;
  for (let i0 = 0; i0 < m; i0 += chunkRows) {
    const i1 = min(m, i0 + chunkRows);
    const blockEnd = i0 + ((i1 - i0) & ~(MR - 1));
    for (let q = 0; q < panels; q++) {
      const cols = min(NR, n - q * NR);
      const panel = packed + (<usize>q) * panelBytes;
      const cCol = c + ((<usize>(q * NR)) << 2);
      let i = i0;
      for (; i < blockEnd; i += MR) {
        tile4x8(a + (<usize>i) * rowStride, rowStride, kStride, panel, k, cCol + (<usize>i) * ldc, ldc, cols, accumulate);
      }
      for (; i < i1; i++) {
        tile1x8(a + (<usize>i) * rowStride, kStride, panel, k, cCol + (<usize>i) * ldc, cols, accumulate);
      }
    }
  }
}

/** One 4×8 tile of C from four rows of A and one packed panel. */
function tile4x8(
  a: usize,
  rowStride: usize,
  kStride: usize,
  panel: usize,
  k: i32,
  c: usize,
  ldc: usize,
  cols: i32,
  accumulate: i32,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  const r2 = rowStride * 2;
  const r3 = rowStride * 3;
  let pa = a;
  let pb = panel;
  const end = panel + (<usize>k) * (<usize>NR << 2);
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let av = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + rowStride);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + r2);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(pa + r3);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    pa += kStride;
    pb += <usize>NR << 2;
  }
  storeRow(c, c00, c01, cols, accumulate);
  storeRow(c + ldc, c10, c11, cols, accumulate);
  storeRow(c + ldc * 2, c20, c21, cols, accumulate);
  storeRow(c + ldc * 3, c30, c31, cols, accumulate);
}

/** One 1×8 tile of C (the rows left over after the 4-row blocks). */
function tile1x8(a: usize, kStride: usize, panel: usize, k: i32, c: usize, cols: i32, accumulate: i32): void {
  let c0 = f32x4.splat(0);
  let c1 = f32x4.splat(0);
  let pa = a;
  let pb = panel;
  const end = panel + (<usize>k) * (<usize>NR << 2);
  while (pb < end) {
    const av = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(av, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(av, v128.load(pb, 16)));
    pa += kStride;
    pb += <usize>NR << 2;
  }
  storeRow(c, c0, c1, cols, accumulate);
}

/** Write (or add) the first `cols` (≤ 8) values of [v0, v1] to c. */
@inline
function storeRow(c: usize, v0: v128, v1: v128, cols: i32, accumulate: i32): void {
  if (cols == NR) {
    if (accumulate) {
      v0 = f32x4.add(v0, v128.load(c));
      v1 = f32x4.add(v1, v128.load(c, 16));
    }
    v128.store(c, v0);
    v128.store(c, v1, 16);
  } else {
    storeLanes(c, v0, min(cols, 4), accumulate);
    if (cols > 4) storeLanes(c + 16, v1, cols - 4, accumulate);
  }
}

/** Write (or add) the first `count` (1..4) lanes of v to c. */
function storeLanes(c: usize, v: v128, count: i32, accumulate: i32): void {
  storeLane(c, f32x4.extract_lane(v, 0), accumulate);
  if (count > 1) storeLane(c + 4, f32x4.extract_lane(v, 1), accumulate);
  if (count > 2) storeLane(c + 8, f32x4.extract_lane(v, 2), accumulate);
  if (count > 3) storeLane(c + 12, f32x4.extract_lane(v, 3), accumulate);
}

@inline
function storeLane(c: usize, x: f32, accumulate: i32): void {
  store<f32>(c, accumulate ? load<f32>(c) + x : x);
}
