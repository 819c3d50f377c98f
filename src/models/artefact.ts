/**
 * Model artefacts (docs/ARTEFACT.md): everything needed to score with a trained model, in one directory —
 * `manifest.json` (what it is, checksums of every other file), `weights.bin` (a parameter file),
 * `ids.json` (external user and item ids), `context.bin` (the ModelContext typed arrays: histories and
 * side features) and `metrics.json`. Saving is atomic (a temporary directory renamed into place) and replaces
 * only an artefact or an empty directory; loading verifies every file, and that every weight is finite, and
 * refuses, naming the file and the reason, anything that does not add up.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject } from "ajv";
import type { FeatureSchema } from "../data/features.js";
import { IdMap } from "../data/idmap.js";
import { writeFileAtomic } from "../engine/container.js";
import { encodeParameters, loadInto, ParameterFileError, type Dtype, type Factors } from "../engine/serialize.js";
import { recentContext } from "./context.js";
import { createModel, type ModelSpec } from "./zoo.js";
import type { Recommender } from "./recommender.js";
import { ArtefactError, decodeContext, encodeContext } from "./artefact-context.js";

export { ArtefactError, decodeContext, encodeContext } from "./artefact-context.js";

/** The `format` of every artefact manifest. */
export const ARTEFACT_FORMAT = "distillrec-model";
/** The manifest version this build writes and reads. */
export const ARTEFACT_VERSION = 1;
/** Files of an artefact besides manifest.json, each checksummed in the manifest. */
export const ARTEFACT_FILES = ["weights.bin", "ids.json", "context.bin", "metrics.json"] as const;
export type ArtefactFile = (typeof ARTEFACT_FILES)[number];

/** Where a model came from: its teacher (for distilled students) and how it was trained. */
export interface ArtefactLineage {
  /** The teacher artefact's id (manifest.id), for students. */
  teacher?: string;
  /** The assistant artefact's id, for students distilled through a chain. */
  assistant?: string;
  /** Distillation method ("ranking", "listwise", "none", …). */
  method?: string;
  /** Anything else worth keeping (dataset name, config name, …). */
  [key: string]: unknown;
}

/** manifest.json. */
export interface ArtefactManifest {
  format: typeof ARTEFACT_FORMAT;
  version: number;
  /** `<kind>-<first 12 hex digits of the weights' sha256>`: stable for identical weights. */
  id: string;
  kind: string;
  spec: ModelSpec;
  /** ISO 8601. */
  createdAt: string;
  distillrecVersion: string;
  files: Record<ArtefactFile, { bytes: number; sha256: string }>;
  metrics: Record<string, number>;
  parameters: number;
  bytes: number;
  flopsPerItem: number;
  numUsers: number;
  numItems: number;
  lineage: ArtefactLineage;
}

/** What saveArtefact writes. */
export interface SaveArtefactOptions {
  model: Recommender;
  /** The model's spec; default `{ kind: model.kind, ...model.config }` (every zoo model keeps its config). */
  spec?: ModelSpec;
  users: IdMap;
  items: IdMap;
  metrics?: Record<string, number>;
  lineage?: ArtefactLineage;
  /** How to store each parameter (by name; default f32 dense): what compression produced. */
  storage?: ParameterStorage;
  /** How raw side features encode (kept in ids.json), so a server can place items the data never had. */
  features?: ArtefactFeatures;
}

/** The feature schemas of a model's users and items (absent: no side features of that kind). */
export interface ArtefactFeatures {
  users?: FeatureSchema;
  items?: FeatureSchema;
}

/** How one parameter is stored in weights.bin (see docs/FORMAT.md): its dtype and layout. */
export interface TensorStorage {
  dtype: Dtype;
  /** Stored as a bitmap and its non-zeros. */
  sparse?: boolean;
  /** Stored as these factors (their product is the parameter's value). */
  factors?: Factors;
}

export type ParameterStorage = ReadonlyMap<string, TensorStorage>;

/** weights.bin of a model: its parameters, stored as `storage` says, with its kind and spec as metadata. */
export function encodeWeights(model: Recommender, spec: ModelSpec, storage?: ParameterStorage): Buffer {
  const tensors = model
    .namedParameters()
    .map(([name, t]) => [name, { ...storage?.get(name), shape: t.shape, data: t.data }] as const);
  return encodeParameters(tensors, { kind: model.kind, spec });
}

/** A loaded, verified artefact. */
export interface LoadedArtefact {
  model: Recommender;
  users: IdMap;
  items: IdMap;
  manifest: ArtefactManifest;
  features: ArtefactFeatures;
}

// ---- manifest schema ----------------------------------------------------------------------------

const fileEntry = {
  type: "object",
  required: ["bytes", "sha256"],
  properties: {
    bytes: { type: "integer", minimum: 0 },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
  },
  additionalProperties: false,
};

/** JSON schema of manifest.json (version 1). */
export const manifestSchema = {
  type: "object",
  required: [
    "format",
    "version",
    "id",
    "kind",
    "spec",
    "createdAt",
    "distillrecVersion",
    "files",
    "metrics",
    "parameters",
    "bytes",
    "flopsPerItem",
    "numUsers",
    "numItems",
    "lineage",
  ],
  properties: {
    format: { const: ARTEFACT_FORMAT },
    version: { const: ARTEFACT_VERSION },
    id: { type: "string", minLength: 1 },
    kind: { type: "string", minLength: 1 },
    spec: { type: "object", required: ["kind"], properties: { kind: { type: "string" } } },
    createdAt: { type: "string" },
    distillrecVersion: { type: "string" },
    files: {
      type: "object",
      required: [...ARTEFACT_FILES],
      properties: Object.fromEntries(ARTEFACT_FILES.map((f) => [f, fileEntry])),
      additionalProperties: false,
    },
    metrics: { type: "object", additionalProperties: { type: "number" } },
    parameters: { type: "integer", minimum: 0 },
    bytes: { type: "integer", minimum: 0 },
    flopsPerItem: { type: "number", minimum: 0 },
    numUsers: { type: "integer", minimum: 0 },
    numItems: { type: "integer", minimum: 0 },
    lineage: { type: "object" },
  },
} as const;

let validator: ReturnType<Ajv["compile"]> | undefined;

/** Validate a parsed manifest; returns the ajv problems as "path message" strings (empty when valid). */
export function manifestProblems(manifest: unknown): string[] {
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(manifestSchema);
  if (validator(manifest)) return [];
  return (validator.errors ?? []).map(formatAjvError);
}

/** "/files/weights.bin/sha256 must match pattern …", or "(root) must have required property 'kind'". */
export function formatAjvError(error: ErrorObject): string {
  const path = error.instancePath === "" ? "(root)" : error.instancePath;
  const extra =
    error.keyword === "const" ? ` ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}` : "";
  return `${path} ${error.message ?? "is invalid"}${extra}`;
}

// ---- saving -------------------------------------------------------------------------------------

/**
 * Write a model artefact to `dir`, atomically: everything goes to a sibling `dir.tmp-*` directory first,
 * which then takes the place of `dir`. Only an artefact or an empty directory at `dir` is replaced; anything
 * else there (a file, a symbolic link, a directory holding other files) is refused with an ArtefactError
 * naming it, and left untouched. Returns the manifest.
 */
export function saveArtefact(dir: string, options: SaveArtefactOptions): ArtefactManifest {
  const { model, users, items } = options;
  const spec = options.spec ?? specOf(model);
  if (spec.kind !== model.kind) {
    throw new Error(`saveArtefact: spec kind "${spec.kind}" does not match the model's kind "${model.kind}"`);
  }
  if (users.size !== model.numUsers || items.size !== model.numItems) {
    throw new Error(
      `saveArtefact: id maps (${users.size} users, ${items.size} items) do not match the model ` +
        `(${model.numUsers} users, ${model.numItems} items)`,
    );
  }
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(tmp);
  try {
    const metrics = options.metrics ?? {};
    writeFileAtomic(join(tmp, "weights.bin"), encodeWeights(model, spec, options.storage));
    const features = options.features ?? {};
    writeFileSync(join(tmp, "ids.json"), JSON.stringify({ users: users.toJSON(), items: items.toJSON(), features }));
    // Histories beyond what the model reads are training data, not model: they stay out of the artefact.
    writeFileSync(join(tmp, "context.bin"), encodeContext(recentContext(model.context, model.historyLength)));
    writeFileSync(join(tmp, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
    const files = Object.fromEntries(
      ARTEFACT_FILES.map((name) => {
        const bytes = readFileSync(join(tmp, name));
        return [name, { bytes: bytes.length, sha256: sha256(bytes) }];
      }),
    ) as ArtefactManifest["files"];
    const manifest: ArtefactManifest = {
      format: ARTEFACT_FORMAT,
      version: ARTEFACT_VERSION,
      id: `${model.kind}-${files["weights.bin"].sha256.slice(0, 12)}`,
      kind: model.kind,
      spec,
      createdAt: new Date().toISOString(),
      distillrecVersion: distillrecVersion(),
      files,
      metrics,
      parameters: model.parameterCount(),
      bytes: model.parameterBytes(),
      flopsPerItem: model.flopsPerItem(),
      numUsers: model.numUsers,
      numItems: model.numItems,
      lineage: options.lineage ?? {},
    };
    writeFileSync(join(tmp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    replaceWith(tmp, target);
    return manifest;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** What is at the path an artefact is to be saved to; only "other" may not be replaced. */
export type ArtefactTarget =
  | { kind: "absent" }
  | { kind: "empty" }
  | { kind: "artefact" }
  /** `what` says what it is, for messages: "a file", "a directory that is not a model artefact (…)". */
  | { kind: "other"; what: string };

/** The names an artefact directory holds: manifest.json and the files it lists. */
const ARTEFACT_ENTRIES: ReadonlySet<string> = new Set(["manifest.json", ...ARTEFACT_FILES]);

/**
 * What `path` holds: nothing, an empty directory, a model artefact (a directory holding only artefact files,
 * with a distillrec manifest) or something else. Symbolic links are not followed: replacing one would remove
 * what it points to.
 */
export function artefactTarget(path: string): ArtefactTarget {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw err;
  }
  if (stat.isSymbolicLink()) return { kind: "other", what: "a symbolic link" };
  if (!stat.isDirectory()) return { kind: "other", what: "a file" };
  const entries = readdirSync(path);
  if (entries.length === 0) return { kind: "empty" };
  const foreign = entries.filter((name) => !ARTEFACT_ENTRIES.has(name));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, … (${foreign.length} in all)` : "");
    return { kind: "other", what: `a directory that is not a model artefact (it holds ${shown})` };
  }
  if (!hasArtefactManifest(join(path, "manifest.json"))) {
    return { kind: "other", what: "a directory without a model artefact manifest" };
  }
  return { kind: "artefact" };
}

/** Whether `path` is a JSON file of the artefact format (any version: an older artefact is still one). */
function hasArtefactManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { format?: unknown } | null)?.format === ARTEFACT_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Move the finished directory `tmp` to `target`, replacing an artefact or an empty directory there. The
 * check is made here, just before the swap, so that what decides is what is there now.
 */
function replaceWith(tmp: string, target: string): void {
  const existing = artefactTarget(target);
  if (existing.kind === "other") {
    throw new ArtefactError(
      target,
      `${existing.what}: not replaced (a model is saved only over an artefact or an empty directory)`,
    );
  }
  if (existing.kind === "absent") {
    renameSync(tmp, target);
    return;
  }
  if (existing.kind === "empty") {
    rmdirSync(target);
    renameSync(tmp, target);
    return;
  }
  const old = `${target}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
  renameSync(target, old);
  renameSync(tmp, target);
  // Anything added since the check stays, in the `.old-` directory.
  removeArtefactFiles(old);
}

/**
 * Remove the artefact files at `dir` (manifest.json and the files it lists) and then `dir` itself, unless it
 * holds anything else: whatever else is there was not written by distillrec, and stays.
 */
export function removeArtefactFiles(dir: string): void {
  for (const name of ARTEFACT_ENTRIES) rmSync(join(dir, name), { force: true });
  try {
    rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOTEMPTY") throw err;
  }
}

/** The spec a zoo model was built from: its kind plus its `config`. */
export function specOf(model: Recommender): ModelSpec {
  const config = (model as unknown as { config?: Record<string, unknown> }).config;
  if (!config || typeof config !== "object") {
    throw new Error(`saveArtefact: model "${model.kind}" has no config; pass its spec explicitly`);
  }
  return { ...config, kind: model.kind } as ModelSpec;
}

// ---- loading ------------------------------------------------------------------------------------

/** Read only manifest.json, validated against the schema (no file checks). */
export function readManifest(dir: string): ArtefactManifest {
  const path = join(dir, "manifest.json");
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ArtefactError(dir, "not a model artefact directory (it does not exist or is not a directory)");
  }
  if (!existsSync(path)) throw new ArtefactError(path, "missing file: not a model artefact (no manifest.json)");
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ArtefactError(path, `malformed JSON: ${(err as Error).message}`);
  }
  const problems = manifestProblems(manifest);
  if (problems.length) throw new ArtefactError(path, `invalid manifest: ${problems.join("; ")}`);
  return manifest as ArtefactManifest;
}

/**
 * Load and verify an artefact: the manifest's schema, every file's size and sha256, the weights' own
 * checksum, the context, the id maps' sizes against the context, and the weights' names and shapes
 * against a model freshly built from the spec. Throws an ArtefactError naming the file on any refusal.
 */
export function loadArtefact(dir: string): LoadedArtefact {
  const manifest = readManifest(dir);
  const contents = new Map<ArtefactFile, Buffer>();
  for (const name of ARTEFACT_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new ArtefactError(path, "missing file (listed in manifest.json)");
    const bytes = readFileSync(path);
    const expected = manifest.files[name];
    const actual = sha256(bytes);
    if (bytes.length !== expected.bytes || actual !== expected.sha256) {
      throw new ArtefactError(
        path,
        `corrupted: sha256 mismatch (manifest ${expected.sha256.slice(0, 16)}… ${expected.bytes} bytes, ` +
          `file ${actual.slice(0, 16)}… ${bytes.length} bytes)`,
      );
    }
    contents.set(name, bytes);
  }

  const contextPath = join(dir, "context.bin");
  const context = decodeContext(contents.get("context.bin")!, contextPath);
  if (context.numUsers !== manifest.numUsers || context.numItems !== manifest.numItems) {
    throw new ArtefactError(
      contextPath,
      `context has ${context.numUsers} users and ${context.numItems} items, ` +
        `the manifest says ${manifest.numUsers} and ${manifest.numItems}`,
    );
  }

  const idsPath = join(dir, "ids.json");
  const { users, items, features } = parseIds(contents.get("ids.json")!, idsPath);
  if (users.size !== context.numUsers) {
    throw new ArtefactError(idsPath, `id map size mismatch: ${users.size} user ids for ${context.numUsers} users`);
  }
  if (items.size !== context.numItems) {
    throw new ArtefactError(idsPath, `id map size mismatch: ${items.size} item ids for ${context.numItems} items`);
  }

  const manifestPath = join(dir, "manifest.json");
  let model: Recommender;
  try {
    model = createModel(manifest.spec, context);
  } catch (err) {
    throw new ArtefactError(manifestPath, `cannot build the model from its spec: ${(err as Error).message}`);
  }
  if (model.kind !== manifest.kind) {
    throw new ArtefactError(manifestPath, `kind "${manifest.kind}" does not match the spec's model "${model.kind}"`);
  }
  try {
    loadInto(join(dir, "weights.bin"), model.namedParameters());
  } catch (err) {
    if (err instanceof ParameterFileError) {
      throw new ArtefactError(join(dir, "weights.bin"), `parameter mismatch or invalid weights: ${err.reason}`);
    }
    throw err;
  }
  // Checksums only say the file is what was written: a model that diverged was written with NaNs, and would
  // score every item NaN (and evaluate to NDCG 0) rather than fail.
  for (const [name, tensor] of model.namedParameters()) {
    const data = tensor.data;
    const at = firstNonFinite(data);
    if (at >= 0) {
      throw new ArtefactError(
        join(dir, "weights.bin"),
        `non-finite weight: parameter ${name} holds ${data[at]} at index ${at}`,
      );
    }
  }
  model.eval();
  return { model, users, items, manifest, features };
}

/**
 * The directory of the teacher an artefact's lineage names (by id) among the artefact's sibling
 * directories, where the pipeline and `distill` put teachers and students; undefined when there is none.
 */
export function findTeacherBeside(dir: string, manifest: ArtefactManifest): string | undefined {
  const id = manifest.lineage.teacher;
  if (typeof id !== "string") return undefined;
  const parent = dirname(resolve(dir));
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sibling = join(parent, entry.name);
    try {
      if (readManifest(sibling).id === id) return sibling;
    } catch {
      // Not an artefact (or a broken one): keep looking.
    }
  }
  return undefined;
}

function parseIds(bytes: Buffer, path: string): { users: IdMap; items: IdMap; features: ArtefactFeatures } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new ArtefactError(path, `malformed JSON: ${(err as Error).message}`);
  }
  const list = (key: "users" | "items"): IdMap => {
    const ids = (json as Record<string, unknown> | null)?.[key];
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
      throw new ArtefactError(path, `"${key}" must be an array of strings`);
    }
    try {
      return IdMap.fromJSON(ids);
    } catch (err) {
      throw new ArtefactError(path, `${key}: ${(err as Error).message}`);
    }
  };
  // Artefacts written before feature schemas were kept have none.
  const features = (json as Record<string, unknown>).features ?? {};
  const problems = featuresProblems(features);
  if (problems.length) throw new ArtefactError(path, `invalid "features": ${problems.join("; ")}`);
  return { users: list("users"), items: list("items"), features: features as ArtefactFeatures };
}

const schemaOfFeatures = {
  type: "object",
  properties: {
    categorical: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
    multi: { type: "object", additionalProperties: { type: "array", items: { type: "string" } } },
    numeric: {
      type: "object",
      additionalProperties: {
        type: "object",
        required: ["mean", "std"],
        properties: { mean: { type: "number" }, std: { type: "number", minimum: 0 } },
      },
    },
  },
  required: ["categorical", "multi", "numeric"],
  additionalProperties: false,
} as const;

let featuresValidator: ReturnType<Ajv["compile"]> | undefined;

function featuresProblems(features: unknown): string[] {
  featuresValidator ??= new Ajv({ allErrors: true, strict: false }).compile({
    type: "object",
    properties: { users: schemaOfFeatures, items: schemaOfFeatures },
    additionalProperties: false,
  });
  if (featuresValidator(features)) return [];
  return (featuresValidator.errors ?? []).map(formatAjvError);
}

// ---- helpers ------------------------------------------------------------------------------------

/** The index of the first NaN or ±Infinity in `data`, -1 when every value is finite. */
function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity.
    const v = data[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

let cachedVersion: string | undefined;

/** The version in distillrec's package.json ("0.0.0" when it cannot be found). */
export function distillrecVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = "0.0.0";
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const path = join(dir, "package.json");
    if (existsSync(path)) {
      try {
        const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
        if (pkg.name === "distillrec" && pkg.version) {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // keep looking
      }
    }
    dir = dirname(dir);
  }
  return cachedVersion;
}
