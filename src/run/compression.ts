/**
 * The progressive compression schedule: apply steps in order (fp16 or int8 storage, magnitude pruning,
 * low-rank factorisation), evaluate after each, and undo a step whose cumulative quality drop exceeds
 * the budget. Every step works on the model's own parameters through the parameter file's codec
 * (engine/serialize.ts roundTrip), so what is evaluated is exactly what the saved artefact loads.
 */
import { matrixOf, roundTrip, storedBytes, type Dtype } from "../engine/serialize.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import { isDotProduct } from "../models/dot-product.js";
import { encodeWeights, type ParameterStorage, type TensorStorage } from "../models/artefact.js";
import { lowRank } from "../engine/codecs/lowrank.js";
import { pruneColumns, pruneMagnitude, pruneRows } from "../engine/codecs/prune.js";

/** Which weights magnitude pruning removes: single weights, or whole columns (embedding dimensions, input neurons) or rows (output neurons). */
export type PruneStructure = "weights" | "columns" | "rows";

/** One step of a schedule. */
export type CompressionStep =
  | { kind: "fp16" }
  | { kind: "int8" }
  | { kind: "prune"; sparsity: number; structure?: PruneStructure; fineTuneEpochs?: number }
  | { kind: "lowrank"; energy?: number; rank?: number; fineTuneEpochs?: number };

/** What to do when a step's quality drop exceeds the budget: undo it and go on, or undo it and stop. */
export type OnExceed = "rollback" | "stop";

/** Quality of a model: the validation metric the budget is judged on, and test metrics for the report. */
export interface Quality {
  validation: number;
  test: Record<string, number>;
}

/** A model being compressed: its spec, parameters (held by `model`) and how each is stored. */
export interface CompressedState {
  spec: ModelSpec;
  model: Recommender;
  storage: Map<string, PlannedStorage>;
}

/** How a parameter is stored, with what its projection needs: the kept positions and the rank. */
export interface PlannedStorage {
  dtype: Dtype;
  /** Kept positions (1) of a pruned parameter. */
  mask?: Uint8Array;
  /** The rank of a factorised parameter. */
  rank?: number;
}

/** One row of the report. */
export interface StepReport {
  step: string;
  status: "start" | "kept" | "rolled back" | "skipped";
  /** weights.bin bytes after the step (of the kept state when rolled back). */
  bytes: number;
  validation: number;
  /** Relative validation drop from the start, of the step as tried. */
  drop: number;
  test: Record<string, number>;
  latencyMs: number;
  seconds: number;
  note: string;
}

export interface CompressOptions {
  spec: ModelSpec;
  model: Recommender;
  steps: readonly CompressionStep[];
  /** The largest relative drop of the validation metric from the start that a step may leave (e.g. 0.02). */
  budget: number;
  onExceed?: OnExceed;
  evaluate: (model: Recommender) => Quality;
  /** Top-10 latency of one request, in ms. */
  latency: (model: Recommender) => number;
  /**
   * Train the model a few epochs (from its parameters, e.g. distilling from a teacher), calling
   * `constrain` on the parameters after every epoch; returns the trained model. Without it, pruning and
   * low-rank steps are not fine-tuned.
   */
  fineTune?: (
    state: { spec: ModelSpec; model: Recommender },
    epochs: number,
    constrain: (model: Recommender) => void,
  ) => Promise<Recommender>;
  log?: (report: StepReport) => void;
}

export interface CompressionResult {
  spec: ModelSpec;
  model: Recommender;
  /** For saveArtefact: the storage of every parameter, with low-rank factors. */
  storage: ParameterStorage;
  steps: StepReport[];
  /** The report of the state the model ends in: the last step kept (or the start). */
  final: StepReport;
}

/** A parameter that is a matrix worth compressing: two or more dimensions, at least 2 × 2. */
function isMatrix(shape: readonly number[]): boolean {
  const [rows, cols] = matrixOf(shape);
  return shape.length >= 2 && rows >= 2 && cols >= 2;
}

/** Human-readable step name. */
export function describeStep(step: CompressionStep): string {
  switch (step.kind) {
    case "fp16":
    case "int8":
      return step.kind;
    case "prune":
      return `prune ${Math.round(step.sparsity * 100)}%${step.structure && step.structure !== "weights" ? ` ${step.structure}` : ""}`;
    case "lowrank":
      return step.rank !== undefined
        ? `low-rank r=${step.rank}`
        : `low-rank ${Math.round((step.energy ?? 0.9) * 100)}% energy`;
  }
}

/** Parse "fp16", "int8", "prune:0.5", "prune:0.5:columns", "lowrank:0.9" (energy) or "lowrank:r8"; steps split by commas. */
export function parseSteps(text: string, fineTuneEpochs = 0): CompressionStep[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s): CompressionStep => {
      const [kind, arg, extra] = s.split(":");
      if ((kind === "fp16" || kind === "int8") && arg === undefined) return { kind };
      if (kind === "prune") {
        const sparsity = Number(arg);
        if (!(sparsity > 0 && sparsity < 1)) throw new RangeError(`step "${s}": sparsity must be in (0, 1)`);
        if (extra !== undefined && extra !== "weights" && extra !== "columns" && extra !== "rows") {
          throw new RangeError(`step "${s}": structure must be weights, columns or rows`);
        }
        return { kind, sparsity, ...(extra ? { structure: extra } : {}), fineTuneEpochs };
      }
      if (kind === "lowrank" && extra === undefined) {
        if (arg?.startsWith("r")) {
          const rank = Number(arg.slice(1));
          if (!(Number.isInteger(rank) && rank >= 1))
            throw new RangeError(`step "${s}": rank must be a positive integer`);
          return { kind, rank, fineTuneEpochs };
        }
        const energy = arg === undefined ? 0.9 : Number(arg);
        if (!(energy > 0 && energy < 1)) throw new RangeError(`step "${s}": energy must be in (0, 1)`);
        return { kind, energy, fineTuneEpochs };
      }
      throw new RangeError(
        `unknown compression step "${s}" (known: fp16, int8, prune:<sparsity>[:weights|columns|rows], lowrank:<energy>|lowrank:r<rank>)`,
      );
    });
}

/**
 * Project every parameter onto its storage: zero its pruned positions, factorise it to its rank, and
 * round-trip it through its dtype. Returns how each parameter is to be saved, low-rank factors included.
 */
export function project(model: Recommender, storage: ReadonlyMap<string, PlannedStorage>): ParameterStorage {
  const stored = new Map<string, TensorStorage>();
  for (const [name, t] of model.namedParameters()) {
    const plan = storage.get(name) ?? { dtype: "f32" };
    let values = t.data;
    if (plan.mask) values = values.map((v, i) => (plan.mask![i] ? v : 0));
    const entry: TensorStorage = { dtype: plan.dtype, ...(plan.mask ? { sparse: true } : {}) };
    if (plan.rank !== undefined) {
      const [rows, cols] = matrixOf(t.shape);
      const { left, right, rank } = lowRank(values, rows, cols, plan.rank);
      entry.factors = { left, right, rank };
    }
    t.data.set(roundTrip({ shape: t.shape, data: values, ...entry }));
    stored.set(name, entry);
  }
  return stored;
}

/** The smallest rank keeping `energy` of a matrix's squared singular values. */
function rankForEnergy(values: Float32Array, rows: number, cols: number, energy: number): number {
  const { singularValues } = lowRank(values, rows, cols, Math.min(rows, cols));
  const squares = Array.from(singularValues, (s) => s * s);
  const total = squares.reduce((a, b) => a + b, 0);
  let kept = 0;
  for (let r = 0; r < squares.length; r++) {
    kept += squares[r]!;
    if (kept >= energy * total) return r + 1;
  }
  return squares.length;
}

/**
 * Change `state.storage` for one step (and the spec, for int8 retrieval). A step changes a tensor only
 * where that makes it smaller; returns what changed, for the report (empty when nothing did).
 */
function plan(step: CompressionStep, state: CompressedState): string[] {
  const params = state.model.namedParameters();
  const storageOf = (name: string): PlannedStorage => {
    let entry = state.storage.get(name);
    if (!entry) state.storage.set(name, (entry = { dtype: "f32" }));
    return entry;
  };
  const changed: string[] = [];
  switch (step.kind) {
    case "fp16":
      // Never raises precision: int8 tensors stay int8.
      for (const [name] of params) {
        const entry = storageOf(name);
        if (entry.dtype !== "f32") continue;
        entry.dtype = "f16";
        changed.push(name);
      }
      return changed.length ? [`${changed.length} tensors as f16`] : [];
    case "int8": {
      let matrices = 0;
      for (const [name, t] of params) {
        // Vectors (biases, attention queries) are a few bytes and the most sensitive: they stay f16.
        const dtype = isMatrix(t.shape) ? "i8" : "f16";
        const entry = storageOf(name);
        if (entry.dtype === dtype || entry.dtype === "i8") continue;
        entry.dtype = dtype;
        changed.push(name);
        if (dtype === "i8") matrices++;
      }
      if (!changed.length) return [];
      const notes = [`${matrices} matrices as i8, ${changed.length - matrices} vectors as f16`];
      // Item vectors follow the weights into int8 where the model's spec can scan them so.
      if (isDotProduct(state.model) && state.model.retrievalPrecisions.includes("int8")) {
        state.spec = { ...state.spec, retrieval: "int8" } as ModelSpec;
        notes.push("int8 retrieval");
      }
      return notes;
    }
    case "prune": {
      for (const [name, t] of params) {
        const entry = storageOf(name);
        if (!isMatrix(t.shape) || entry.rank !== undefined) continue;
        const [rows, cols] = matrixOf(t.shape);
        const mask = pruneMask(t.data, rows, cols, step.sparsity, step.structure ?? "weights");
        const nonZeros = countNonZero(t.data, mask);
        // The bitmap costs an eighth of a byte a value: at low sparsity a dense tensor is smaller.
        if (storedBytes(t.shape, entry.dtype, { nonZeros }) >= currentBytes(t, entry)) continue;
        entry.mask = mask;
        changed.push(name);
      }
      return changed.length ? [`${changed.length} matrices pruned`] : [];
    }
    case "lowrank": {
      for (const [name, t] of params) {
        const entry = storageOf(name);
        if (!isMatrix(t.shape) || entry.rank !== undefined) continue;
        const [rows, cols] = matrixOf(t.shape);
        const rank = Math.min(step.rank ?? rankForEnergy(t.data, rows, cols, step.energy ?? 0.9), rows, cols);
        if (storedBytes(t.shape, entry.dtype, { rank }) >= currentBytes(t, entry)) continue;
        // Factors replace a pruned tensor's sparse layout: the factorisation is of its pruned values.
        delete entry.mask;
        entry.rank = rank;
        changed.push(`${name} r${rank}`);
      }
      return changed;
    }
  }
}

/** Bytes of a parameter as currently stored (its values already projected: zero where pruned). */
function currentBytes(t: { shape: readonly number[]; data: Float32Array }, entry: PlannedStorage): number {
  return storedBytes(t.shape, entry.dtype, entry.mask ? { nonZeros: countNonZero(t.data) } : {});
}

/** Values a sparse layout stores: the non-zeros (among the positions `mask` keeps, when given). */
function countNonZero(values: Float32Array, mask?: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0 && (!mask || mask[i])) n++;
  return n;
}

/** Kept positions of a [rows, cols] matrix after magnitude pruning. */
function pruneMask(
  values: Float32Array,
  rows: number,
  cols: number,
  sparsity: number,
  structure: PruneStructure,
): Uint8Array {
  const mask = new Uint8Array(rows * cols);
  if (structure === "weights") {
    // A weight that is already zero stays pruned, so the sparsity is at least the requested one.
    const pruned = pruneMagnitude(values, rows, cols, sparsity);
    for (let i = 0; i < mask.length; i++) mask[i] = pruned[i] !== 0 ? 1 : 0;
    return mask;
  }
  if (structure === "columns") {
    const { kept } = pruneColumns(values, rows, cols, Math.max(1, Math.round((1 - sparsity) * cols)));
    for (let r = 0; r < rows; r++) for (const c of kept) mask[r * cols + c] = 1;
    return mask;
  }
  const { kept } = pruneRows(values, rows, cols, Math.max(1, Math.round((1 - sparsity) * rows)));
  for (const r of kept) mask.fill(1, r * cols, (r + 1) * cols);
  return mask;
}

/** Rebuild the model when a step changed its spec, keeping its parameters. */
function rebuild(state: CompressedState): void {
  if (state.model.kind !== state.spec.kind) throw new Error("compress: a step changed the model kind");
  const model = createModel(state.spec, state.model.context);
  const values = new Map(state.model.namedParameters());
  for (const [name, t] of model.namedParameters()) t.data.set(values.get(name)!.data);
  model.eval();
  state.model = model;
}

function snapshot(state: CompressedState): {
  spec: ModelSpec;
  values: Float32Array[];
  storage: Map<string, PlannedStorage>;
} {
  return {
    spec: state.spec,
    values: state.model.parameters().map((p) => p.data.slice()),
    storage: new Map([...state.storage].map(([name, entry]) => [name, { ...entry }])),
  };
}

/** Run a compression schedule on a model (in place: `options.model` ends up holding the kept state). */
export async function compress(options: CompressOptions): Promise<CompressionResult> {
  const { budget } = options;
  if (!(budget >= 0)) throw new RangeError(`compress: budget must be a non-negative fraction, got ${budget}`);
  const state: CompressedState = { spec: options.spec, model: options.model, storage: new Map() };
  state.model.eval();
  let stored = project(state.model, state.storage);
  const weightsBytes = () => encodeWeights(state.model, state.spec, stored).length;
  const startedAt = performance.now();
  const start = options.evaluate(state.model);
  const reports: StepReport[] = [];
  const report = (r: StepReport) => {
    reports.push(r);
    options.log?.(r);
  };
  report({
    step: "fp32 (start)",
    status: "start",
    bytes: weightsBytes(),
    validation: start.validation,
    drop: 0,
    test: start.test,
    latencyMs: options.latency(state.model),
    seconds: (performance.now() - startedAt) / 1000,
    note: "",
  });
  let kept = { quality: start, bytes: reports[0]!.bytes, latencyMs: reports[0]!.latencyMs };
  let stopped = false;
  for (const step of options.steps) {
    const name = describeStep(step);
    if (stopped) {
      report({ step: name, status: "skipped", ...keptFields(kept, start), seconds: 0, note: "stopped by the budget" });
      continue;
    }
    const began = performance.now();
    const before = { ...snapshot(state), stored };
    const changes = plan(step, state);
    if (!changes.length) {
      report({
        step: name,
        status: "skipped",
        ...keptFields(kept, start),
        seconds: 0,
        note: "nothing it would shrink",
      });
      continue;
    }
    let note = changes.join(", ");
    if (state.spec !== before.spec) rebuild(state);
    stored = project(state.model, state.storage);
    const epochs = "fineTuneEpochs" in step ? (step.fineTuneEpochs ?? 0) : 0;
    if (epochs > 0 && options.fineTune) {
      const storage = state.storage;
      state.model = await options.fineTune({ spec: state.spec, model: state.model }, epochs, (m) => {
        project(m, storage);
      });
      state.model.eval();
      stored = project(state.model, state.storage);
      note += `; fine-tuned ${epochs} epoch${epochs === 1 ? "" : "s"}`;
    }
    const quality = options.evaluate(state.model);
    const drop = relativeDrop(start.validation, quality.validation);
    const seconds = (performance.now() - began) / 1000;
    if (drop > budget) {
      const specChanged = state.spec !== before.spec;
      state.spec = before.spec;
      state.storage = before.storage;
      if (specChanged) rebuild(state);
      // The kept state exactly as it was evaluated: projecting again could move low-rank factors.
      state.model.parameters().forEach((p, i) => p.data.set(before.values[i]!));
      stored = before.stored;
      stopped = options.onExceed === "stop";
      report({
        step: name,
        status: "rolled back",
        bytes: kept.bytes,
        validation: quality.validation,
        drop,
        test: quality.test,
        latencyMs: kept.latencyMs,
        seconds,
        note: `${note}; validation drop ${(drop * 100).toFixed(1)}% > budget ${(budget * 100).toFixed(1)}%`,
      });
      continue;
    }
    kept = { quality, bytes: weightsBytes(), latencyMs: options.latency(state.model) };
    report({ step: name, status: "kept", ...keptFields(kept, start), seconds, note });
  }
  const final = reports.filter((r) => r.status === "start" || r.status === "kept").at(-1)!;
  return { spec: state.spec, model: state.model, storage: stored, steps: reports, final };
}

function keptFields(
  kept: { quality: Quality; bytes: number; latencyMs: number },
  start: Quality,
): Pick<StepReport, "bytes" | "validation" | "drop" | "test" | "latencyMs"> {
  return {
    bytes: kept.bytes,
    validation: kept.quality.validation,
    drop: relativeDrop(start.validation, kept.quality.validation),
    test: kept.quality.test,
    latencyMs: kept.latencyMs,
  };
}

function relativeDrop(from: number, to: number): number {
  return from > 0 ? (from - to) / from : 0;
}
