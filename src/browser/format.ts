/**
 * The web form of a student (docs/INTEROP.md): `model.json` (this manifest) and `tables.bin` (float32
 * tables, little-endian, at the offsets listed), what `distillrec export --format web` writes and the
 * browser entry (`distillrec/browser`) fetches. Everything that depends only on an id — item vectors,
 * a user's id row and side features — is precomputed; pooling the live history, the user MLP and the
 * scan run in the page, on the same WebAssembly kernels as in Node.
 */

export const WEB_FORMAT = "distillrec-web";
export const WEB_VERSION = 1;

/** Where one float32 table lies in tables.bin. */
export interface WebTable {
  /** Byte offset (a multiple of 64). */
  offset: number;
  rows: number;
  cols: number;
}

export interface WebModelManifest {
  format: typeof WEB_FORMAT;
  version: number;
  /** The student's kind ("bpr-mf", "two-tower") and its artefact id when it came from one. */
  kind: string;
  id?: string;
  dim: number;
  numUsers: number;
  numItems: number;
  /** Recent items the user side reads (0: none). */
  maxHistory: number;
  /** How the history is pooled ("none": the model reads no history). */
  pooling: "none" | "mean" | "attention";
  /** The user vector's fields in order: the id row ("id"), the pooled history ("history"), each side feature ("feature"). */
  userFields: ("id" | "history" | "feature")[];
  /** Hidden and output widths of the user MLP (empty: the fields are summed). */
  mlp: { in: number; out: number; bias: boolean }[];
  /** External ids: index = the model's dense index. */
  users: string[];
  items: string[];
  /** Each known user's last maxHistory training items (dense item indices, oldest first). */
  histories: number[][];
  /**
   * items [numItems, dim]; userId [numUsers + 1, dim]; userFeatures [numUsers + 1, features · dim];
   * history [numItems, dim]; query [1, dim]; mlp.<k>.weight [out, in], mlp.<k>.bias [1, out].
   */
  tables: Record<string, WebTable>;
  /** Size of tables.bin. */
  bytes: number;
}
