// Small models over a context with item features, saved as artefacts, for the serving tests.
import { IdMap } from "../../src/data/idmap.js";
import { saveArtefact } from "../../src/models/artefact.js";
import type { ModelContext } from "../../src/models/context.js";
import type { Recommender } from "../../src/models/recommender.js";
import { TwoTower } from "../../src/models/two-tower.js";

export const USERS = 30;
export const ITEMS = 40;
/** Item i's category: "c0" … "c3" (i % 4). */
export const CATEGORIES = ["c0", "c1", "c2", "c3"];

/** Users u0…u29 with 5 recent items each; items i0…i39 with a category. */
export function servingContext(): ModelContext {
  const offsets = Int32Array.from({ length: USERS + 1 }, (_, u) => 5 * u);
  const items = Int32Array.from({ length: 5 * USERS }, (_, k) => (7 * k + Math.floor(k / 5)) % ITEMS);
  return {
    numUsers: USERS,
    numItems: ITEMS,
    histories: { offsets, items },
    itemFeatures: {
      categorical: [{ name: "category", vocabSize: 5, ids: Int32Array.from({ length: ITEMS }, (_, i) => 1 + (i % 4)) }],
      multi: [],
      numeric: [{ name: "price", values: Float32Array.from({ length: ITEMS }, (_, i) => ((i % 7) - 3) / 2) }],
    },
  };
}

/** Save a two-tower model (seeded) to `dir`; returns its version (the manifest id). */
export function saveServingModel(dir: string, seed: number, retrieval: "f32" | "int8" = "f32"): string {
  return saveServingArtefact(
    dir,
    new TwoTower({ dim: 8, maxHistory: 10, seed, initStd: 0.5, retrieval }, servingContext()),
  );
}

/**
 * Save any model over servingContext() to `dir`, with the serving ids and item feature schema (and
 * `lineage`, default a plain student's); returns its version.
 */
export function saveServingArtefact(
  dir: string,
  model: Recommender,
  lineage: Record<string, unknown> = { role: "student" },
  metrics: Record<string, number> = {},
): string {
  const manifest = saveArtefact(dir, {
    model,
    metrics,
    users: IdMap.fromJSON(Array.from({ length: USERS }, (_, u) => `u${u}`)),
    items: IdMap.fromJSON(Array.from({ length: ITEMS }, (_, i) => `i${i}`)),
    features: {
      items: {
        categorical: { category: ["[UNK]", ...CATEGORIES] },
        multi: {},
        numeric: { price: { mean: 20, std: 8 } },
      },
    },
    lineage,
  });
  return manifest.id;
}
