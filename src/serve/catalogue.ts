/**
 * The items a server can recommend: the model's own (with the attributes its side features give them) and
 * the items added since (PUT /v1/items), each an index past the model's. Filters ("category:shoes") become
 * byte masks over the indices, as the retrieval kernels take them.
 */
import type { FeatureSchema } from "../data/features.js";
import { IdMap } from "../data/idmap.js";
import type { FeatureInputs } from "../models/context.js";
import type { RawFeatures } from "../models/features.js";

/** An attribute filter: items whose `attribute` (a categorical or multi-valued feature) holds `value`. */
export interface AttributeFilter {
  attribute: string;
  value: string;
}

export class Catalogue {
  readonly ids: IdMap;
  /** attribute → item index → the item's values (token strings). */
  private readonly attributes = new Map<string, (readonly string[])[]>();

  constructor(
    ids: IdMap,
    /** The model's item features and their schema, for the attributes of its own items. */
    features?: { inputs: FeatureInputs; schema: FeatureSchema },
  ) {
    this.ids = IdMap.fromJSON(ids.toJSON());
    if (!features) return;
    const { inputs, schema } = features;
    for (const c of inputs.categorical) {
      const vocab = schema.categorical[c.name] ?? [];
      // Token 0 is [UNK]: an item without a value has no attribute value to match.
      this.attributes.set(
        c.name,
        Array.from(c.ids, (id) => (id > 0 && vocab[id] !== undefined ? [vocab[id]!] : [])),
      );
    }
    for (const m of inputs.multi) {
      const vocab = schema.multi[m.name] ?? [];
      const values: string[][] = [];
      for (let i = 0; i + 1 < m.offsets.length; i++) {
        const tokens = Array.from(m.ids.subarray(m.offsets[i], m.offsets[i + 1]));
        values.push(tokens.filter((id) => id > 0 && vocab[id] !== undefined).map((id) => vocab[id]!));
      }
      this.attributes.set(m.name, values);
    }
  }

  get size(): number {
    return this.ids.size;
  }

  /** Attribute names filters may use. */
  get attributeNames(): string[] {
    return [...this.attributes.keys()];
  }

  /** Add (or update) an item; returns its index. Token features become its attributes. */
  upsert(id: string, features: RawFeatures): number {
    const index = this.ids.add(id);
    for (const [name, values] of this.attributes) {
      const raw = features[name];
      const tokens =
        typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw.filter((t) => typeof t === "string") : [];
      values[index] = tokens;
    }
    return index;
  }

  /** The attribute values of an item. */
  attributesOf(index: number): Record<string, readonly string[]> {
    return Object.fromEntries([...this.attributes].map(([name, values]) => [name, values[index] ?? []]));
  }

  /**
   * Excluded items (1) for the filters (an item must match every one) and the excluded external ids; unknown
   * excluded ids are ignored. Refuses a filter on an attribute the catalogue does not have.
   */
  exclusionMask(filters: readonly AttributeFilter[], exclude: Iterable<number> = []): Uint8Array {
    const mask = new Uint8Array(this.size);
    for (const { attribute, value } of filters) {
      const values = this.attributes.get(attribute);
      if (!values) {
        throw new UnknownAttributeError(attribute, this.attributeNames);
      }
      for (let i = 0; i < mask.length; i++) if (!(values[i] ?? []).includes(value)) mask[i] = 1;
    }
    for (const i of exclude) if (i >= 0 && i < mask.length) mask[i] = 1;
    return mask;
  }
}

/** A filter names an attribute the items do not have. */
export class UnknownAttributeError extends Error {
  constructor(
    readonly attribute: string,
    readonly known: readonly string[],
  ) {
    super(
      `unknown attribute "${attribute}" in filter` +
        (known.length ? ` (the items have: ${known.join(", ")})` : " (the items have no attributes)"),
    );
  }
}
