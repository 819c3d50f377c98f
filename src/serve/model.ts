/**
 * One loaded model version, ready to answer: its catalogue (model items + items added since), and for a
 * dot-product model (models/dot-product.ts) an index over every item vector — so a recommendation is one
 * user encoding and one scan, item-to-item neighbours come from the same vectors, and items added at run
 * time get a vector from their features when the model has cold items. Models that do not factor into user
 * and item vectors score the catalogue, or re-rank candidates, with their own scorer.
 */
import type { FeatureSchema } from "../data/features.js";
import type { LoadedArtefact } from "../models/artefact.js";
import { unknownUser } from "../models/context.js";
import { encodeFeatureRows, type RawFeatures } from "../models/features.js";
import type { Scorer } from "../models/recommender.js";
import { hasColdItems, isDotProduct, type ColdItemModel, type DotProductModel } from "../models/dot-product.js";
import { dequantizeInt8, quantizeInt8 } from "../engine/codecs/int8.js";
import { topK } from "../eval/metrics.js";
import { noGrad, endStep } from "../engine/tensor.js";
import { Catalogue } from "./catalogue.js";
import type { Precision, Ranked, SearchOptions } from "../engine/retrieval.js";

/** What the server needs of an index over item vectors (ExactIndex and IvfIndex have it). */
export interface VectorIndex {
  search(query: Float32Array, k: number, options?: SearchOptions): Ranked;
  upsert(index: number, vector: Float32Array): void;
  dispose(): void;
}

/** Builds the index over row-major item vectors [n, dim] in the model's retrieval precision. */
export type IndexFactory = (vectors: Float32Array, dim: number, precision: Precision) => VectorIndex;

/** Whom to recommend for: the model's user index (undefined for a user it never saw) and their recent items. */
export interface UserInput {
  index: number | undefined;
  /** Recent item indices, oldest first (items past the model's own are ignored by the model). */
  history: Int32Array;
}

/**
 * A model kind cannot do what was asked: neighbours without item vectors, or scoring items added at run
 * time without cold items.
 */
export class UnsupportedError extends Error {}

export class ServingModel {
  readonly version: string;
  readonly kind: string;
  readonly loadedAt = new Date().toISOString();
  readonly catalogue: Catalogue;
  /** Models without item vectors: their scorer, over the catalogue or a candidate list. */
  private readonly scorer: Scorer | null = null;
  /**
   * Dot-product models: the model, every item's vector (model items, then items added with a cold vector)
   * and the index over them.
   */
  private readonly vectors: { model: DotProductModel; data: Float32Array; dim: number; index: VectorIndex } | null =
    null;
  private readonly itemSchema: FeatureSchema | undefined;

  constructor(
    readonly artefact: LoadedArtefact,
    readonly dir: string,
    indexFactory: IndexFactory,
  ) {
    const { model, manifest, features } = artefact;
    this.version = manifest.id;
    this.kind = manifest.kind;
    this.itemSchema = features.items;
    const itemInputs = model.context.itemFeatures;
    this.catalogue = new Catalogue(
      artefact.items,
      itemInputs && features.items ? { inputs: itemInputs, schema: features.items } : undefined,
    );
    if (isDotProduct(model)) {
      // The index holds the item vectors, so no scorer keeps a second copy of them in WebAssembly memory. With
      // int8 retrieval, vectors are those the quantised table stands for, as the model's own scorer scans them.
      const exact = model.itemVectorTable();
      const data = model.retrieval === "int8" ? dequantizeInt8(quantizeInt8(exact, model.numItems, model.dim)) : exact;
      this.vectors = { model, data, dim: model.dim, index: indexFactory(data, model.dim, model.retrieval) };
    } else {
      this.scorer = model.scorer();
    }
  }

  /** Whether the model has item vectors (neighbours, recommendation through the index). */
  get hasItemVectors(): boolean {
    return this.vectors !== null;
  }

  /** Whether items added at run time get a vector from their features (and so are scored and recommended). */
  get hasColdItems(): boolean {
    return this.vectors !== null && hasColdItems(this.vectors.model);
  }

  /** Items the model itself knows (the rest of the catalogue was added at run time). */
  get modelItems(): number {
    return this.artefact.model.numItems;
  }

  /** The top `k` items for a user, none of those `exclude` marks. */
  recommend(user: UserInput, k: number, exclude: Uint8Array): Ranked {
    if (this.vectors) return this.vectors.index.search(this.userVector(user), k, { exclude });
    const scores = this.scorer!.scoreAll(this.query(user));
    // Items added at run time have no score from a model without item vectors: never recommended.
    const items = topK(scores, k, exclude.subarray(0, scores.length));
    return { items, scores: Float32Array.from(items, (i) => scores[i]!) };
  }

  /** Scores of a caller's candidates for a user, in the caller's order. */
  rank(user: UserInput, items: Int32Array): Float32Array {
    if (!this.hasColdItems && items.some((i) => i >= this.modelItems)) {
      throw new UnsupportedError(`a ${this.kind} model cannot score items added at run time`);
    }
    if (!this.vectors) return this.scorer!.scoreCandidates(this.query(user), items);
    const u = this.userVector(user);
    const { data, dim } = this.vectors;
    return Float32Array.from(items, (i) => dot(u, data, i * dim, dim));
  }

  /** The `k` items closest to `item` by dot product of item vectors, itself and `exclude` left out. */
  similar(item: number, k: number, exclude: Uint8Array): Ranked {
    if (!this.vectors) throw new UnsupportedError(`a ${this.kind} model has no item vectors for neighbours`);
    if (item >= this.modelItems && !this.hasColdItems) {
      throw new UnsupportedError(`a ${this.kind} model has no vectors for items added at run time`);
    }
    const { data, dim, index } = this.vectors;
    const mask = exclude.slice();
    mask[item] = 1;
    return index.search(data.slice(item * dim, (item + 1) * dim), k, { exclude: mask });
  }

  /**
   * Add or update an item of the catalogue from its raw features; a model with cold items gives it a
   * vector from those features (cold start), so it is recommendable at once (other models keep it in the
   * catalogue only). Returns the item's index.
   */
  upsertItem(id: string, features: RawFeatures): number {
    const known = this.catalogue.ids.get(id);
    if (known !== undefined && known < this.modelItems) {
      // The model's own items keep their trained vectors; only their attributes change.
      return this.catalogue.upsert(id, features);
    }
    const vectors = this.vectors;
    if (!vectors || !hasColdItems(vectors.model)) {
      return this.catalogue.upsert(id, features);
    }
    const vector = this.coldVector(vectors.model, features);
    const index = this.catalogue.upsert(id, features);
    const { dim } = vectors;
    if ((index + 1) * dim > vectors.data.length) {
      const grown = new Float32Array(Math.max((index + 1) * dim, 2 * vectors.data.length));
      grown.set(vectors.data);
      vectors.data = grown;
    }
    vectors.data.set(vector, index * dim);
    vectors.index.upsert(index, vector);
    return index;
  }

  /** Refuse raw features the model's schema cannot encode (a value of the wrong kind), before storing them. */
  checkFeatures(features: RawFeatures): void {
    const inputs = this.artefact.model.context.itemFeatures;
    if (inputs && this.itemSchema) encodeFeatureRows(this.itemSchema, inputs, [features]);
  }

  /** Release the index's or the scorer's memory. */
  dispose(): void {
    this.vectors?.index.dispose();
    this.scorer?.dispose?.();
  }

  private coldVector(model: ColdItemModel, features: RawFeatures): Float32Array {
    const inputs = model.context.itemFeatures;
    const encoded =
      inputs && this.itemSchema
        ? encodeFeatureRows(this.itemSchema, inputs, [features])
        : { categorical: [], multi: [], numeric: [] };
    return noGrad(() => {
      const v = model.coldItemVectors(encoded, 1).data.slice();
      endStep();
      return v;
    });
  }

  private query(user: UserInput): { user: number; history: Int32Array } {
    const model = this.artefact.model;
    return {
      user: user.index ?? unknownUser(model.context),
      history: user.history.filter((i) => i < model.numItems),
    };
  }

  private userVector(user: UserInput): Float32Array {
    return this.vectors!.model.userVector(this.query(user));
  }
}

function dot(u: Float32Array, data: Float32Array, offset: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += u[k]! * data[offset + k]!;
  return s;
}
