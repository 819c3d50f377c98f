/**
 * Topology distillation (Kang et al., KDD'21): the student learns the relations among the batch's users
 * and items in the teacher's space — their cosine similarities — rather than each entity's position.
 *
 * - Full topology (FTD): every pair of the batch's entities, mean of (ρᵗ_ij − ρˢ_ij)².
 * - Hierarchical topology (HTD): the entities fall into groups (each one's most likely group under the
 *   distillation experts' selection network on its teacher embedding, users and items apart); the
 *   student keeps the entity-level topology within each group (pairs of the same group) and the
 *   group-level topology, each entity's similarity to every group's prototype (the mean of its members;
 *   the prototypes held constant, as the reference does). The selection network learns through the
 *   experts term (DE), which HTD's group assignment is.
 */
import * as ops from "../engine/ops/index.js";
import { noGrad, Tensor } from "../engine/tensor.js";
import { gatherColumns } from "./soft-losses.js";

/** Row-wise cosine similarities of x [n, d] with y [m, d]: [n, m] (rows of norm 0 have similarity 0). */
export function cosineSimilarities(x: Tensor, y: Tensor = x): Tensor {
  const unit = (t: Tensor) => {
    const norms = ops.exp(ops.scale(ops.log(ops.addScalar(ops.sumLastDim(ops.square(t)), 1e-12)), 0.5));
    return ops.div(t, norms.reshape([t.shape[0]!, 1]));
  };
  const ux = unit(x);
  return ops.linear(ux, y === x ? ux : unit(y));
}

/** {@link cosineSimilarities} of constants x [n × d] and y [m × d], as values (the teacher's side). */
export function cosineSimilarityValues(x: Float32Array, n: number, y: Float32Array = x, m = n): Float32Array {
  const d = n === 0 ? 0 : x.length / n;
  return noGrad(() => {
    const tx = Tensor.from(x, [n, d]);
    return Float32Array.from(cosineSimilarities(tx, y === x ? tx : Tensor.from(y, [m, d])).data);
  });
}

/**
 * FTD: the mean over every ordered pair of the n entities of (ρᵗ − ρˢ)², with `student` [n, ds] and
 * `teacher` [n × dt].
 */
export function fullTopologyLoss(student: Tensor, teacher: Float32Array): Tensor {
  const n = student.shape[0]!;
  const target = cosineSimilarityValues(teacher, n);
  return ops.mse(cosineSimilarities(student), target);
}

/**
 * HTD's topology term: entity level — the mean of (ρᵗ − ρˢ)² over pairs of the same group — plus group
 * level — the mean of (ρᵗ(P_g, e) − ρˢ(P_g, e))² over every present group g and entity e, with the
 * prototypes P_g the mean of g's members (constants on both sides). `groups[k]` is entity k's group;
 * `studentPrototypes` (present groups ascending × ds) default to the student's current means.
 */
export function hierarchicalTopologyLoss(
  student: Tensor,
  teacher: Float32Array,
  groups: Int32Array,
  studentPrototypes?: Float32Array,
): Tensor {
  const n = student.shape[0]!;
  const ds = student.shape[1]!;
  if (groups.length !== n) throw new RangeError(`hierarchicalTopologyLoss: ${groups.length} groups for ${n} entities`);
  const dt = n === 0 ? 0 : teacher.length / n;
  // Entity level: the same-group pairs' similarities.
  const pairs: number[] = [];
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (groups[a] === groups[b]) pairs.push(a * n + b);
  const teacherSim = cosineSimilarityValues(teacher, n);
  const studentSim = cosineSimilarities(student).reshape([1, n * n]);
  const picked = Int32Array.from(pairs);
  const entity = ops.mse(
    gatherColumns(studentSim, picked, picked.length),
    Float32Array.from(picked, (p) => teacherSim[p]!),
  );
  // Group level: each entity against every present group's prototype.
  const present = [...new Set(groups)].sort((a, b) => a - b);
  const prototypes = (values: Float32Array, d: number) => {
    const out = new Float32Array(present.length * d);
    present.forEach((g, k) => {
      let count = 0;
      for (let e = 0; e < n; e++) {
        if (groups[e] !== g) continue;
        count++;
        for (let j = 0; j < d; j++) out[k * d + j]! += values[e * d + j]!;
      }
      for (let j = 0; j < d; j++) out[k * d + j]! /= count;
    });
    return out;
  };
  const P = present.length;
  const teacherGroup = cosineSimilarityValues(prototypes(teacher, dt), P, teacher, n);
  const fixed = Tensor.from(studentPrototypes ?? prototypes(student.data, ds), [P, ds]);
  const group = ops.mse(cosineSimilarities(fixed, student), teacherGroup);
  return ops.add(entity, group);
}
