// The built-in synthetic e-commerce dataset: seeded, O(events), with structure a good model can learn.
//
// Items have latent vectors tied to their category and brand, a Zipf-like popularity and a price. Users have a
// taste vector (a mixture over preferred categories and brands), a price sensitivity, and a second taste their
// preferences drift towards over the timeline. Each session picks a user by activity, samples a candidate pool
// (half by global popularity, half by popularity within the user's categories), and views items drawn by a
// softmax over the pool; every view may continue view → click → cart → purchase with probabilities that rise
// with the user's affinity for the item.
//
// On top of that, four kinds of structure real shops have, each with its own setting (0 switches it off):
//
// - Sequential intent (`sessionIntent`): a session carries an intent, a latent direction that starts at its
//   first viewed item and moves halfway towards every item viewed after it. Each later view is, with this
//   probability, a step from that intent: INTENT_CANDIDATES items drawn by popularity from the category of the
//   last viewed item, scored by the user's affinity minus INTENT_SHARPNESS × ‖intent − item‖², so the next item
//   lies near the last ones (often the same brand). The order matters: a sequence model reads it directly, a
//   bag-of-history model only through the mean of the history.
// - Complementary purchases (`complementRate`): every item has COMPLEMENTS items in its category's
//   complementary category (a fixed random other category; phone → case). Carting or buying an item queues its
//   complements for that user (the last PENDING_COMPLEMENTS); each later view, in this session or later ones, is
//   with this probability one of the queued complements, whose funnel affinity is raised by COMPLEMENT_BOOST.
//   An item-to-item relation of high rank: a wide model with the history learns it, a narrow one hardly.
// - Feature crosses (`featureCross`): affinity gains featureCross × (R[region, category] + A[age band, brand])/√2
//   with R and A standard normal tables: an interaction of user and item features no additive feature model
//   has, and a rank-(regions + age bands) term on top of the tastes that a small dot product cannot hold.
// - Popularity drift (`popularityDrift`): each item has a lifecycle — a peak time uniform over the timeline
//   widened by LIFECYCLE_WIDTH on both sides — and its popularity at time t is multiplied by
//   exp(−popularityDrift × ((t − peak) / LIFECYCLE_WIDTH)² / 2), floored at exp(−LIFECYCLE_FLOOR): items launch,
//   trend and fade at different times.
//
// All of it is drawn from a second generator, so with the four settings at 0 the log is exactly the
// structureless shop's; every step is O(1) (or O(candidates × dimension)) per event.
import { UNKNOWN_TOKEN } from "./features.js";
import { IdMap } from "./idmap.js";
import { DataRng } from "./rng.js";
import { buildAliasTable } from "./sampling.js";
import { makeInteractions } from "./shaping.js";
import { EVENT_TYPES, type Dataset, type FeatureTable } from "./types.js";

/** Parameters of {@link generateEcommerce}. */
export interface SyntheticConfig {
  users: number;
  items: number;
  /** Exact number of rows in the log. */
  events: number;
  seed: number;
  categories: number;
  brands: number;
  /** How far (0..1) each user's taste moves towards a second taste by the end of the timeline. */
  drift: number;
  /** Latent dimension of tastes and item vectors. */
  dimension: number;
  /** Candidates sampled per session. */
  poolSize: number;
  /** Mean number of item views per session. */
  meanSessionViews: number;
  /** Zipf exponent of item popularity. */
  zipfExponent: number;
  /** First timestamp (seconds since the epoch) and length of the timeline in days. */
  startTime: number;
  days: number;
  /** Probability (0..1) that a view after a session's first is a step from the session's intent (near the last views). */
  sessionIntent: number;
  /** Probability (0..1) that a view is one of the user's queued complements of items carted or bought before. */
  complementRate: number;
  /** Strength (≥ 0, in logits) of the user-feature × item-feature interaction (region × category, age × brand). */
  featureCross: number;
  /** Strength (≥ 0) of the items' lifecycles: how sharply popularity rises and fades around each item's peak. */
  popularityDrift: number;
}

/** Defaults used when no data is given: a small shop that trains in seconds. */
export const defaultSyntheticConfig: Readonly<SyntheticConfig> = {
  users: 5000,
  items: 2000,
  events: 200_000,
  seed: 42,
  categories: 20,
  brands: 200,
  drift: 0.3,
  dimension: 16,
  poolSize: 64,
  meanSessionViews: 6,
  zipfExponent: 1,
  startTime: Date.UTC(2024, 0, 1) / 1000,
  days: 180,
  sessionIntent: 0.7,
  complementRate: 0.2,
  featureCross: 1,
  popularityDrift: 0.3,
};

/** The same shop with none of the four structures (sequential intent, complements, feature crosses, popularity drift). */
export const structurelessSynthetic: Readonly<
  Pick<SyntheticConfig, "sessionIntent" | "complementRate" | "featureCross" | "popularityDrift">
> = { sessionIntent: 0, complementRate: 0, featureCross: 0, popularityDrift: 0 };

const REGIONS = 8;
const AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"] as const;
/** Mean price sensitivity per age band: younger shoppers react more to price. */
const AGE_PRICE_SENSITIVITY = [1.0, 0.8, 0.6, 0.5, 0.5, 0.6];
/** Scale of taste · item: how strongly preferences beat popularity. */
const TASTE_STRENGTH = 6;
/** Preferred categories per taste (a user has two tastes: the initial one and the drift target). */
const PREFERRED_CATEGORIES = 3;
/** Funnel continuation logits: intercept + slope × affinity, for click, cart and purchase. */
const FUNNEL_INTERCEPT = [-3, -3.5, -2.5];
const FUNNEL_SLOPE = [0.5, 0.5, 0.4];
/** Candidates an intent step draws from the last viewed item's category, and how sharply it prefers ones near the intent. */
const INTENT_CANDIDATES = 16;
const INTENT_SHARPNESS = 6;
/** Complements per item, complements queued per user, and the funnel affinity bonus of a complement view. */
const COMPLEMENTS = 3;
const COMPLEMENT_CANDIDATES = 8;
const PENDING_COMPLEMENTS = 6;
const COMPLEMENT_BOOST = 2;
/** Half-width of an item's lifecycle as a share of the timeline, and the floor of its log popularity factor. */
const LIFECYCLE_WIDTH = 0.25;
const LIFECYCLE_FLOOR = 6;
/** Seed offset of the generator the structures draw from, so switching them off leaves the main stream as it was. */
const STRUCTURE_SEED = 0x2545f491;
const [VIEW, CLICK, CART, PURCHASE] = (["view", "click", "cart", "purchase"] as const).map((t) =>
  EVENT_TYPES.indexOf(t),
) as [number, number, number, number];

/** Generates a seeded synthetic e-commerce dataset; missing settings come from defaultSyntheticConfig. */
export function generateEcommerce(options: Partial<SyntheticConfig> = {}): Dataset {
  const config: SyntheticConfig = { ...defaultSyntheticConfig, ...options };
  validate(config);
  const rng = new DataRng(config.seed);
  const catalogue = generateCatalogue(config, rng);
  const population = generateUsers(config, catalogue, rng);
  const structureRng = new DataRng(config.seed ^ STRUCTURE_SEED);
  const structure = generateStructure(config, catalogue, structureRng);
  const interactions = generateSessions(config, catalogue, population, structure, rng, structureRng);
  return {
    name: `synthetic-ecommerce(seed=${config.seed})`,
    interactions,
    users: sequentialIds("u", config.users),
    items: sequentialIds("i", config.items),
    userFeatures: {
      categorical: {
        region: { vocab: vocabulary("region_", REGIONS), ids: plusOne(population.region) },
        age_band: { vocab: vocabularyOf(AGE_BANDS), ids: plusOne(population.ageBand) },
      },
      multi: {},
      numeric: {},
    },
    itemFeatures: {
      categorical: {
        category: { vocab: vocabulary("category_", config.categories), ids: plusOne(catalogue.category) },
        brand: { vocab: vocabulary("brand_", config.brands), ids: plusOne(catalogue.brand) },
      },
      multi: {},
      numeric: { price: zScore(catalogue.price) },
    },
  };
}

interface Catalogue {
  category: Int32Array;
  brand: Int32Array;
  price: Float64Array;
  /** Item latent vectors, row-major items × dimension. */
  vectors: Float32Array;
  /** Standardised log price, what price sensitivity acts on. */
  logPrice: Float32Array;
  /** Alias table over items ∝ popularity. */
  popularity: { probability: Float64Array; alias: Int32Array };
  totalPopularity: number;
  /** Items grouped by category (CSR), with one alias table ∝ popularity per group (aliases are CSR positions). */
  categoryOffsets: Int32Array;
  categoryItems: Int32Array;
  categoryAlias: { probability: Float64Array; alias: Int32Array };
  /** Total popularity of each category. */
  categoryPopularity: Float64Array;
  /** Category centres, row-major categories × dimension. */
  centres: Float32Array;
}

function generateCatalogue(config: SyntheticConfig, rng: DataRng): Catalogue {
  const { items, categories, brands, dimension: d } = config;
  const centres = normalMatrix(rng, categories, d, 1 / Math.sqrt(d));
  const brandOffsets = normalMatrix(rng, brands, d, 0.5 / Math.sqrt(d));
  const categoryBasePrice = Float64Array.from({ length: categories }, () => Math.exp(3 + 0.8 * rng.normal()));
  const brandPremium = Float64Array.from({ length: brands }, () => Math.exp(0.3 * rng.normal()));
  // Brand b belongs to category b mod categories, so brands are coherent with categories.
  const brandsPerCategory = Math.ceil(brands / categories);

  const category = new Int32Array(items);
  const brand = new Int32Array(items);
  const price = new Float64Array(items);
  const vectors = new Float32Array(items * d);
  const logPrice = new Float32Array(items);
  for (let i = 0; i < items; i++) {
    const c = rng.int(categories);
    let b = c + categories * rng.int(brandsPerCategory);
    if (b >= brands) b = c < brands ? c : rng.int(brands);
    category[i] = c;
    brand[i] = b;
    price[i] = Math.round(categoryBasePrice[c]! * brandPremium[b]! * Math.exp(0.3 * rng.normal()) * 100) / 100 + 0.99;
    for (let k = 0; k < d; k++) {
      vectors[i * d + k] = centres[c * d + k]! + brandOffsets[b * d + k]! + (0.3 / Math.sqrt(d)) * rng.normal();
    }
    logPrice[i] = Math.log(price[i]!);
  }
  standardise(logPrice);

  // Zipf popularity over a random ranking, so an item's index says nothing about its popularity.
  const rank = rng.shuffle(Int32Array.from({ length: items }, (_, i) => i));
  const weights = Float64Array.from(rank, (r) => Math.pow(r + 1, -config.zipfExponent));
  let totalPopularity = 0;
  for (const w of weights) totalPopularity += w;

  const categoryOffsets = new Int32Array(categories + 1);
  for (const c of category) categoryOffsets[c + 1]!++;
  for (let c = 0; c < categories; c++) categoryOffsets[c + 1]! += categoryOffsets[c]!;
  const cursor = categoryOffsets.slice(0, categories);
  const categoryItems = new Int32Array(items);
  for (let i = 0; i < items; i++) categoryItems[cursor[category[i]!]!++] = i;
  const categoryAlias = { probability: new Float64Array(items), alias: new Int32Array(items) };
  const categoryPopularity = new Float64Array(categories);
  for (let c = 0; c < categories; c++) {
    const start = categoryOffsets[c]!;
    const end = categoryOffsets[c + 1]!;
    if (end === start) continue;
    const groupWeights = Float64Array.from(categoryItems.subarray(start, end), (i) => weights[i]!);
    for (const w of groupWeights) categoryPopularity[c]! += w;
    const table = buildAliasTable(groupWeights);
    categoryAlias.probability.set(table.probability, start);
    for (let k = 0; k < table.alias.length; k++) categoryAlias.alias[start + k] = start + table.alias[k]!;
  }
  return {
    category,
    brand,
    price,
    vectors,
    logPrice,
    popularity: buildAliasTable(weights),
    totalPopularity,
    categoryOffsets,
    categoryItems,
    categoryAlias,
    categoryPopularity,
    centres,
  };
}

interface Population {
  region: Int32Array;
  ageBand: Int32Array;
  priceSensitivity: Float32Array;
  /** Initial taste and drift target, row-major users × dimension. */
  tasteStart: Float32Array;
  tasteEnd: Float32Array;
  /** Preferred categories and their weights: PREFERRED_CATEGORIES for the start taste, then as many for the end. */
  preferred: Int32Array;
  preferredWeights: Float32Array;
  /** Alias table over users ∝ activity. */
  activity: { probability: Float64Array; alias: Int32Array };
}

function generateUsers(config: SyntheticConfig, catalogue: Catalogue, rng: DataRng): Population {
  const { users, categories, dimension: d } = config;
  const regionFavourite = Int32Array.from({ length: REGIONS }, () => rng.int(categories));
  const region = new Int32Array(users);
  const ageBand = new Int32Array(users);
  const priceSensitivity = new Float32Array(users);
  const tasteStart = new Float32Array(users * d);
  const tasteEnd = new Float32Array(users * d);
  const preferred = new Int32Array(users * 2 * PREFERRED_CATEGORIES);
  const preferredWeights = new Float32Array(users * 2 * PREFERRED_CATEGORIES);
  const activity = new Float64Array(users);
  const drawTaste = (u: number, taste: Float32Array, slot: number, favourite: number) => {
    const base = (u * 2 + slot) * PREFERRED_CATEGORIES;
    let total = 0;
    for (let k = 0; k < PREFERRED_CATEGORIES; k++) {
      // The first preference follows `favourite` half of the time: the region for the initial taste (so user
      // features carry signal), the initial first preference for the drift target (core interests persist).
      preferred[base + k] = k === 0 && rng.next() < 0.5 ? favourite : rng.int(categories);
      preferredWeights[base + k] = rng.exponential(1) * (k === 0 ? 2 : 1);
      total += preferredWeights[base + k]!;
    }
    for (let k = 0; k < PREFERRED_CATEGORIES; k++) preferredWeights[base + k]! /= total;
    for (let j = 0; j < d; j++) {
      let value = (0.5 / Math.sqrt(d)) * rng.normal();
      for (let k = 0; k < PREFERRED_CATEGORIES; k++) {
        value += preferredWeights[base + k]! * catalogue.centres[preferred[base + k]! * d + j]!;
      }
      taste[u * d + j] = TASTE_STRENGTH * value;
    }
  };
  for (let u = 0; u < users; u++) {
    region[u] = rng.int(REGIONS);
    ageBand[u] = rng.int(AGE_BANDS.length);
    priceSensitivity[u] = Math.max(0, AGE_PRICE_SENSITIVITY[ageBand[u]!]! + 0.3 * rng.normal());
    drawTaste(u, tasteStart, 0, regionFavourite[region[u]!]!);
    drawTaste(u, tasteEnd, 1, preferred[u * 2 * PREFERRED_CATEGORIES]!);
    activity[u] = Math.exp(0.5 * rng.normal());
  }
  return {
    region,
    ageBand,
    priceSensitivity,
    tasteStart,
    tasteEnd,
    preferred,
    preferredWeights,
    activity: buildAliasTable(activity),
  };
}

interface Structure {
  /** Complements of each item, row-major items × COMPLEMENTS. */
  complements: Int32Array;
  /** Feature-cross tables already scaled by featureCross / √2: regions × categories and age bands × brands. */
  regionCategory: Float64Array;
  ageBrand: Float64Array;
  /** Each item's lifecycle peak as a share of the timeline. */
  peak: Float64Array;
}

function generateStructure(config: SyntheticConfig, catalogue: Catalogue, rng: DataRng): Structure {
  const { items, categories, brands } = config;
  const { categoryOffsets } = catalogue;
  // Each category's complementary category is another one (itself only when there is a single category).
  const complementCategory = Int32Array.from({ length: categories }, (_, c) =>
    categories === 1 ? c : (c + 1 + rng.int(categories - 1)) % categories,
  );
  // An item's complements match its style (its vector less its category's centre; a case fits its phone): each is
  // the closest in style of COMPLEMENT_CANDIDATES items drawn by popularity from the complementary category.
  const { vectors, centres, category } = catalogue;
  const d = config.dimension;
  const styleDistance = (i: number, j: number) => {
    let distance = 0;
    for (let k = 0; k < d; k++) {
      const a = vectors[i * d + k]! - centres[category[i]! * d + k]!;
      distance += (a - vectors[j * d + k]! + centres[category[j]! * d + k]!) ** 2;
    }
    return distance;
  };
  const complements = new Int32Array(items * COMPLEMENTS);
  for (let i = 0; i < items; i++) {
    let c = complementCategory[category[i]!]!;
    if (categoryOffsets[c + 1] === categoryOffsets[c]) c = category[i]!;
    for (let k = 0; k < COMPLEMENTS; k++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let m = 0; m < COMPLEMENT_CANDIDATES; m++) {
        const j = categoryDraw(catalogue, c, rng);
        const distance = styleDistance(i, j);
        if (distance < bestDistance) [best, bestDistance] = [j, distance];
      }
      complements[i * COMPLEMENTS + k] = best;
    }
  }
  const scale = config.featureCross / Math.SQRT2;
  const regionCategory = Float64Array.from({ length: REGIONS * categories }, () => scale * rng.normal());
  const ageBrand = Float64Array.from({ length: AGE_BANDS.length * brands }, () => scale * rng.normal());
  const peak = Float64Array.from({ length: items }, () => -LIFECYCLE_WIDTH + (1 + 2 * LIFECYCLE_WIDTH) * rng.next());
  return { complements, regionCategory, ageBrand, peak };
}

/** An item of category c drawn ∝ popularity (the category must have items). */
function categoryDraw(catalogue: Catalogue, c: number, rng: DataRng): number {
  const { categoryOffsets, categoryItems, categoryAlias } = catalogue;
  const position = categoryOffsets[c]! + rng.int(categoryOffsets[c + 1]! - categoryOffsets[c]!);
  return categoryItems[rng.next() < categoryAlias.probability[position]! ? position : categoryAlias.alias[position]!]!;
}

function generateSessions(
  config: SyntheticConfig,
  catalogue: Catalogue,
  population: Population,
  structure: Structure,
  rng: DataRng,
  structureRng: DataRng,
) {
  const log = new SessionWriter(config, catalogue, population, structure, rng, structureRng);
  // Sessions arrive as a Poisson process whose rate adapts so the log spans about `days`.
  const endTime = config.startTime + config.days * 86400;
  let eventsPerSession = config.meanSessionViews * 1.4;
  const meanStep = Math.min(30, (config.days * 86400 * eventsPerSession) / config.events / (4 * eventsPerSession));
  let clock = config.startTime;
  let sessions = 0;
  while (!log.full) {
    const meanGap = Math.max(1, ((endTime - clock) * eventsPerSession) / (config.events - log.written));
    const user = aliasDraw(population.activity, rng);
    log.buildPool(user, log.written / config.events);
    clock = log.writeSession(user, clock + rng.exponential(meanGap), meanStep);
    eventsPerSession = log.written / ++sessions;
  }
  return makeInteractions({
    users: log.users,
    items: log.items,
    values: new Float32Array(config.events).fill(1),
    timestamps: log.timestamps,
    eventTypes: log.eventTypes,
  });
}

/** Writes sessions into preallocated columns; the hot loops live in small methods so V8 optimises them fully. */
class SessionWriter {
  readonly users: Int32Array;
  readonly items: Int32Array;
  readonly timestamps: Float64Array;
  readonly eventTypes: Uint8Array;
  private row = 0;
  private user = 0;
  /** Share of the timeline written when the session started (what taste drift and lifecycles follow). */
  private progress = 0;
  private readonly taste: Float32Array;
  private readonly mixture = new Float64Array(2 * PREFERRED_CATEGORIES);
  private readonly pool: Int32Array;
  private readonly poolAffinity: Float64Array;
  private readonly poolCumulative: Float64Array;
  /** The session's intent (a latent direction) and the intent step's candidates. */
  private readonly intent: Float32Array;
  private readonly candidates = new Int32Array(INTENT_CANDIDATES);
  private readonly candidateAffinity = new Float64Array(INTENT_CANDIDATES);
  private readonly candidateCumulative = new Float64Array(INTENT_CANDIDATES);
  /** Each user's queued complements (up to PENDING_COMPLEMENTS, row-major) and how many are queued. */
  private readonly pending: Int32Array;
  private readonly pendingCount: Int32Array;

  constructor(
    private readonly config: SyntheticConfig,
    private readonly catalogue: Catalogue,
    private readonly population: Population,
    private readonly structure: Structure,
    private readonly rng: DataRng,
    private readonly structureRng: DataRng,
  ) {
    this.users = new Int32Array(config.events);
    this.items = new Int32Array(config.events);
    this.timestamps = new Float64Array(config.events);
    this.eventTypes = new Uint8Array(config.events);
    this.taste = new Float32Array(config.dimension);
    this.pool = new Int32Array(config.poolSize);
    this.poolAffinity = new Float64Array(config.poolSize);
    this.poolCumulative = new Float64Array(config.poolSize);
    this.intent = new Float32Array(config.dimension);
    const queued = config.complementRate > 0 ? config.users : 0;
    this.pending = new Int32Array(queued * PENDING_COMPLEMENTS);
    this.pendingCount = new Int32Array(queued);
  }

  get full(): boolean {
    return this.row >= this.config.events;
  }

  get written(): number {
    return this.row;
  }

  /** The session user's affinity for an item: taste · item − price term (+ the feature cross). */
  private affinity(item: number): number {
    const { dimension: d, featureCross, categories, brands } = this.config;
    const { taste, user } = this;
    const vectors = this.catalogue.vectors;
    let affinity = -this.population.priceSensitivity[user]! * this.catalogue.logPrice[item]!;
    const row = item * d;
    for (let j = 0; j < d; j++) affinity += taste[j]! * vectors[row + j]!;
    if (featureCross > 0) {
      affinity +=
        this.structure.regionCategory[this.population.region[user]! * categories + this.catalogue.category[item]!]!;
      affinity += this.structure.ageBrand[this.population.ageBand[user]! * brands + this.catalogue.brand[item]!]!;
    }
    return affinity;
  }

  /** Log of the item's lifecycle factor on its popularity now (0 without popularity drift). */
  private lifecycle(item: number): number {
    const { popularityDrift } = this.config;
    if (popularityDrift === 0) return 0;
    const distance = (this.progress - this.structure.peak[item]!) / LIFECYCLE_WIDTH;
    return Math.max(-LIFECYCLE_FLOOR, (-popularityDrift * distance * distance) / 2);
  }

  /**
   * Samples and scores the session's candidate pool: half by global popularity, half by popularity within the
   * user's (drifting) preferred categories. Scores are corrected by −log(proposal / popularity), so the pool
   * softmax approximates softmax(affinity + log popularity (× lifecycle)) over the whole catalogue.
   */
  buildPool(user: number, progress: number): void {
    const { dimension: d, poolSize } = this.config;
    const shift = this.config.drift * progress;
    this.user = user;
    this.progress = progress;
    const { tasteStart, tasteEnd, preferred, preferredWeights } = this.population;
    const { category, categoryOffsets, categoryItems, categoryPopularity } = this.catalogue;
    const { probability: groupProbability, alias: groupAlias } = this.catalogue.categoryAlias;
    const { taste, mixture, pool, poolAffinity, poolCumulative, rng } = this;
    for (let j = 0; j < d; j++) taste[j] = (1 - shift) * tasteStart[user * d + j]! + shift * tasteEnd[user * d + j]!;
    const base = user * mixture.length;
    let mixtureTotal = 0;
    for (let k = 0; k < mixture.length; k++) {
      mixtureTotal += preferredWeights[base + k]! * (k < PREFERRED_CATEGORIES ? 1 - shift : shift);
      mixture[k] = mixtureTotal;
    }
    const popularShare = 0.5 / this.catalogue.totalPopularity;
    const popularHalf = poolSize >> 1;
    let maxScore = -Infinity;
    for (let p = 0; p < poolSize; p++) {
      let item = -1;
      if (p >= popularHalf) {
        const c = preferred[base + cumulativeDraw(mixture, 0, mixture.length, rng)]!;
        if (categoryPopularity[c]! > 0) {
          const position = categoryOffsets[c]! + rng.int(categoryOffsets[c + 1]! - categoryOffsets[c]!);
          item = categoryItems[rng.next() < groupProbability[position]! ? position : groupAlias[position]!]!;
        }
      }
      if (item < 0) item = aliasDraw(this.catalogue.popularity, rng);
      pool[p] = item;
      const affinity = this.affinity(item);
      poolAffinity[p] = affinity;
      const c = category[item]!;
      let categoryShare = 0;
      for (let k = 0; k < mixture.length; k++) {
        if (preferred[base + k] === c) categoryShare += mixture[k]! - (k > 0 ? mixture[k - 1]! : 0);
      }
      const score =
        affinity +
        this.lifecycle(item) -
        Math.log(popularShare + (0.5 * categoryShare) / (mixtureTotal * categoryPopularity[c]!));
      poolCumulative[p] = score;
      if (score > maxScore) maxScore = score;
    }
    let running = 0;
    for (let p = 0; p < poolSize; p++) {
      running += Math.exp(poolCumulative[p]! - maxScore);
      poolCumulative[p] = running;
    }
  }

  /**
   * One intent step: INTENT_CANDIDATES items drawn by popularity from the last item's category, one picked by
   * softmax(affinity + lifecycle − INTENT_SHARPNESS ‖intent − item‖²). Sets candidateAffinity[0] to its affinity.
   */
  private intentStep(last: number): number {
    const d = this.config.dimension;
    const { candidates, candidateAffinity, candidateCumulative, intent, structureRng } = this;
    const vectors = this.catalogue.vectors;
    const c = this.catalogue.category[last]!;
    let maxScore = -Infinity;
    for (let k = 0; k < INTENT_CANDIDATES; k++) {
      const item = categoryDraw(this.catalogue, c, structureRng);
      candidates[k] = item;
      const affinity = this.affinity(item);
      candidateAffinity[k] = affinity;
      let distance = 0;
      for (let j = 0; j < d; j++) distance += (intent[j]! - vectors[item * d + j]!) ** 2;
      const score = affinity + this.lifecycle(item) - INTENT_SHARPNESS * distance;
      candidateCumulative[k] = score;
      if (score > maxScore) maxScore = score;
    }
    let running = 0;
    for (let k = 0; k < INTENT_CANDIDATES; k++) {
      running += Math.exp(candidateCumulative[k]! - maxScore);
      candidateCumulative[k] = running;
    }
    const pick = cumulativeDraw(candidateCumulative, 0, INTENT_CANDIDATES, structureRng);
    candidateAffinity[0] = candidateAffinity[pick]!;
    return candidates[pick]!;
  }

  /** Moves the session's intent halfway towards the item (onto it for the session's first view). */
  private updateIntent(item: number, first: boolean): void {
    const d = this.config.dimension;
    const { intent } = this;
    const vectors = this.catalogue.vectors;
    const keep = first ? 0 : 0.5;
    for (let j = 0; j < d; j++) intent[j] = keep * intent[j]! + (1 - keep) * vectors[item * d + j]!;
  }

  /** Takes one of the user's queued complements at random, or returns −1 when none is queued. */
  private takeComplement(user: number): number {
    const count = this.pendingCount[user]!;
    if (count === 0) return -1;
    const base = user * PENDING_COMPLEMENTS;
    const k = this.structureRng.int(count);
    const item = this.pending[base + k]!;
    this.pending[base + k] = this.pending[base + count - 1]!;
    this.pendingCount[user] = count - 1;
    return item;
  }

  /** Queues the item's complements for the user (replacing random queued ones when the queue is full). */
  private queueComplements(user: number, item: number): void {
    const base = user * PENDING_COMPLEMENTS;
    for (let k = 0; k < COMPLEMENTS; k++) {
      const complement = this.structure.complements[item * COMPLEMENTS + k]!;
      const count = this.pendingCount[user]!;
      if (count < PENDING_COMPLEMENTS) {
        this.pending[base + count] = complement;
        this.pendingCount[user] = count + 1;
      } else {
        this.pending[base + this.structureRng.int(PENDING_COMPLEMENTS)] = complement;
      }
    }
  }

  /** Writes one session of views (and their funnel continuations); returns the clock after it. */
  writeSession(user: number, start: number, meanStep: number): number {
    const { rng, pool, poolAffinity, poolCumulative, structureRng } = this;
    const { events, poolSize, sessionIntent, complementRate } = this.config;
    let clock = start;
    let last = -1;
    const views = 1 + Math.floor(rng.exponential(this.config.meanSessionViews - 1));
    for (let v = 0; v < views && this.row < events; v++) {
      let item: number;
      let affinity: number;
      if (complementRate > 0 && this.pendingCount[user]! > 0 && structureRng.next() < complementRate) {
        item = this.takeComplement(user);
        affinity = this.affinity(item) + COMPLEMENT_BOOST;
      } else if (last >= 0 && sessionIntent > 0 && structureRng.next() < sessionIntent) {
        item = this.intentStep(last);
        affinity = this.candidateAffinity[0]!;
      } else {
        const p = cumulativeDraw(poolCumulative, 0, poolSize, rng);
        item = pool[p]!;
        affinity = poolAffinity[p]!;
      }
      if (sessionIntent > 0) this.updateIntent(item, last < 0);
      last = item;
      let stage = VIEW;
      for (;;) {
        const row = this.row++;
        this.users[row] = user;
        this.items[row] = item;
        this.timestamps[row] = Math.round(clock * 1000) / 1000;
        this.eventTypes[row] = stage;
        clock += rng.exponential(meanStep);
        if (stage === CART && complementRate > 0) this.queueComplements(user, item);
        if (stage === PURCHASE || this.row >= events) break;
        const funnelStep = stage - VIEW;
        const logit = FUNNEL_INTERCEPT[funnelStep]! + FUNNEL_SLOPE[funnelStep]! * affinity;
        if (rng.next() * (1 + Math.exp(-logit)) >= 1) break;
        stage = stage === VIEW ? CLICK : stage === CLICK ? CART : PURCHASE;
      }
    }
    return clock;
  }
}

function aliasDraw(table: { probability: Float64Array; alias: Int32Array }, rng: DataRng): number {
  const column = rng.int(table.probability.length);
  return rng.next() < table.probability[column]! ? column : table.alias[column]!;
}

/** An index k in [start, end) drawn ∝ cumulative[k] − cumulative[k − 1] (binary search). */
function cumulativeDraw(cumulative: Float64Array, start: number, end: number, rng: DataRng): number {
  const target = cumulative[end - 1]! * rng.next();
  let lo = start;
  let hi = end - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function normalMatrix(rng: DataRng, rows: number, columns: number, scale: number): Float32Array {
  const matrix = new Float32Array(rows * columns);
  for (let k = 0; k < matrix.length; k++) matrix[k] = scale * rng.normal();
  return matrix;
}

function standardise(values: Float32Array): void {
  const { mean, std } = meanStd(values);
  for (let k = 0; k < values.length; k++) values[k] = (values[k]! - mean) / std;
}

function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let k = 0; k < values.length; k++) sum += values[k]!;
  const mean = sum / values.length;
  let squares = 0;
  for (let k = 0; k < values.length; k++) squares += (values[k]! - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length) || 1 };
}

function zScore(values: Float64Array): FeatureTable["numeric"][string] {
  const { mean, std } = meanStd(values);
  return {
    values: Float32Array.from(values, (v) => (v - mean) / std),
    missing: new Uint8Array(values.length),
    mean,
    std,
  };
}

function sequentialIds(prefix: string, count: number): IdMap {
  const map = new IdMap();
  for (let k = 0; k < count; k++) map.add(`${prefix}${k}`);
  return map;
}

// Token id 0 means unknown/missing in feature tables, so vocabularies reserve index 0, as the feature reader does.
function vocabularyOf(tokens: readonly string[]): IdMap {
  return IdMap.fromJSON([UNKNOWN_TOKEN, ...tokens]);
}

function vocabulary(prefix: string, count: number): IdMap {
  return vocabularyOf(Array.from({ length: count }, (_, k) => `${prefix}${k}`));
}

function plusOne(ids: Int32Array): Int32Array {
  return Int32Array.from(ids, (id) => id + 1);
}

function validate(config: SyntheticConfig): void {
  for (const key of ["users", "items", "events", "categories", "brands", "dimension", "poolSize"] as const) {
    if (!(Number.isInteger(config[key]) && config[key] > 0)) {
      throw new RangeError(`generateEcommerce: ${key} must be a positive integer, got ${config[key]}`);
    }
  }
  if (!(config.drift >= 0 && config.drift <= 1)) throw new RangeError(`generateEcommerce: drift must be in [0, 1]`);
  if (!(config.meanSessionViews >= 1)) throw new RangeError(`generateEcommerce: meanSessionViews must be ≥ 1`);
  for (const key of ["sessionIntent", "complementRate"] as const) {
    if (!(config[key] >= 0 && config[key] <= 1)) throw new RangeError(`generateEcommerce: ${key} must be in [0, 1]`);
  }
  for (const key of ["featureCross", "popularityDrift"] as const) {
    if (!(config[key] >= 0 && Number.isFinite(config[key]))) {
      throw new RangeError(`generateEcommerce: ${key} must be a finite number ≥ 0`);
    }
  }
}
