// Task labels of interactions: whether a user's engagement with an item converted, the second task of
// multi-task models (the first being whether the user interacts at all).
import { buildUserItemIndex, type UserItemIndex } from "./sampling.js";
import { select } from "./shaping.js";
import { EVENT_TYPES, type Interactions } from "./types.js";

const CART = EVENT_TYPES.indexOf("cart");
const PURCHASE = EVENT_TYPES.indexOf("purchase");
const RATING = EVENT_TYPES.indexOf("rating");

/** The lowest rating that counts as a conversion on rating data (MovieLens' 5-star scale: liked, not just seen). */
export const CONVERSION_RATING = 4;

/**
 * Whether one row is a conversion: a cart or purchase event, or a rating of at least CONVERSION_RATING (rating
 * data has no funnel; a high rating is its strong-preference signal). Views and clicks never convert.
 */
export function isConversion(eventType: number, value: number): boolean {
  return eventType === CART || eventType === PURCHASE || (eventType === RATING && value >= CONVERSION_RATING);
}

/**
 * The (user, item) pairs with at least one converting row, for users 0..numUsers-1; null when no row converts
 * (implicit feedback without a funnel or ratings: the data has no second task). Labels belong to pairs, not rows,
 * because leave-one-out keeps a pair's first row only (usually the view), so they are read from the whole log.
 */
export function conversionIndex(interactions: Interactions, numUsers: number): UserItemIndex | null {
  const rows: number[] = [];
  for (let r = 0; r < interactions.length; r++) {
    if (isConversion(interactions.eventTypes[r]!, interactions.values[r]!)) rows.push(r);
  }
  return rows.length === 0 ? null : buildUserItemIndex(select(interactions, rows), numUsers);
}

/** The conversion label (1 or 0) of each (users[k], items[k]) pair; users beyond the index never converted. */
export function conversionLabels(users: Int32Array, items: Int32Array, converted: UserItemIndex): Uint8Array {
  return Uint8Array.from(users, (user, k) => (user < converted.numUsers && converted.has(user, items[k]!) ? 1 : 0));
}
