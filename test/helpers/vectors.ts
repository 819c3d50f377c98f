// Item-vector fixtures shared by the retrieval tests.
import { Rng } from "../../src/engine/random.js";

/** Multiples of 1/8 in [-2, 2]: every product and partial sum is exact in float32, whatever the order. */
export function grid(rows: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: rows * dim }, () => (rng.int(33) - 16) / 8);
}

/** A Gaussian mixture: `clusters` centres ~ N(0, 1), rows = centre + N(0, spread²). */
export function clustered(rows: number, dim: number, clusters: number, spread: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Float32Array.from({ length: clusters * dim }, () => rng.normal());
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const c = rng.int(clusters);
    for (let j = 0; j < dim; j++) out[r * dim + j] = centres[c * dim + j]! + spread * rng.normal();
  }
  return out;
}
