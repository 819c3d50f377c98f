// Writes: feedback events and catalogue items, stored durably before they are acknowledged and applied at
// once, so the next recommendation reflects them.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";
import { HttpError } from "../errors.js";
import { bearer, errorResponses } from "../openapi.js";
import { idSchema, nameSchema, responseObject } from "../schemas.js";
import type { FeedbackEvent, ItemRecord } from "../store.js";

/** Largest batches: about a second of ingest at the target rate, and well inside the body limit. */
const MAX_EVENTS = 20_000;
const MAX_ITEMS = 5_000;

/**
 * Plausible event times, ms since the epoch: from 1990 (older is almost surely seconds, not ms) to a day
 * past the server's clock (clock skew; later is a bug or an attack — one event far in the future would
 * outweigh every other in time-decayed popularity).
 */
export const MIN_TIMESTAMP = Date.UTC(1990, 0, 1);
export const MAX_FUTURE_MS = 24 * 3600 * 1000;
/** Event values (a rating, a count, seconds watched): ≥ 0 and at most this. */
export const MAX_VALUE = 1e6;

const featureValue = {
  type: ["string", "number", "array"],
  wellFormed: true,
  items: { type: "string", wellFormed: true },
  maxItems: 256,
} as const;

export async function eventRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.post<{ Body: { events: (Omit<FeedbackEvent, "timestamp"> & { timestamp?: number })[] } }>(
    "/events",
    {
      onRequest: ctx.requireToken,
      schema: {
        body: {
          type: "object",
          required: ["events"],
          properties: {
            events: {
              type: "array",
              minItems: 1,
              maxItems: MAX_EVENTS,
              items: {
                type: "object",
                required: ["user", "item", "type"],
                properties: {
                  user: idSchema,
                  item: idSchema,
                  type: nameSchema,
                  value: { type: "number", minimum: 0, maximum: MAX_VALUE },
                  timestamp: { type: "number", minimum: MIN_TIMESTAMP },
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
        security: bearer,
        response: {
          200: responseObject({
            accepted: { type: "integer" },
            firstSeq: { type: "integer" },
            unknownItems: { type: "integer" },
            model: { type: "string" },
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const now = Date.now();
      // The upper bound moves with the clock, so it is checked here rather than in the schema.
      const future = request.body.events.findIndex(
        (e) => e.timestamp !== undefined && e.timestamp > now + MAX_FUTURE_MS,
      );
      if (future >= 0) {
        throw new HttpError(
          400,
          `body/events/${future}/timestamp ${request.body.events[future]!.timestamp} is more than 24 h ahead of the server's clock (${now})`,
        );
      }
      const events: FeedbackEvent[] = request.body.events.map((e) => ({ ...e, timestamp: e.timestamp ?? now }));
      // A client retrying a batch sends the same Idempotency-Key: it is stored and counted once.
      const id = request.headers["idempotency-key"];
      const { first, count } = await ctx.store.append(events, typeof id === "string" ? { id } : {});
      const { unknownItems } = ctx.registry.apply(events.map((e, k) => ({ ...e, seq: first + k })));
      ctx.metrics.eventsIngested.inc(count);
      ctx.onEvents?.();
      return { accepted: count, firstSeq: first, unknownItems, model: ctx.registry.current.model.version };
    },
  );

  app.put<{ Body: { items: { id: string; features?: ItemRecord["features"] }[] } }>(
    "/items",
    {
      onRequest: ctx.requireToken,
      schema: {
        body: {
          type: "object",
          required: ["items"],
          properties: {
            items: {
              type: "array",
              minItems: 1,
              maxItems: MAX_ITEMS,
              items: {
                type: "object",
                required: ["id"],
                properties: {
                  id: idSchema,
                  features: {
                    type: "object",
                    propertyNames: nameSchema,
                    additionalProperties: featureValue,
                    maxProperties: 64,
                  },
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
        security: bearer,
        response: {
          200: responseObject({
            upserted: { type: "integer" },
            added: { type: "integer" },
            model: { type: "string" },
            items: { type: "integer" },
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const now = Date.now();
      const items: ItemRecord[] = request.body.items.map((i) => ({
        id: i.id,
        features: i.features ?? {},
        updatedAt: now,
      }));
      // Encode first: a feature of the wrong kind is refused before anything is stored.
      for (const item of items) ctx.registry.current.model.checkFeatures(item.features);
      // Counted before the write: a shared store adds the items to the catalogue before it returns.
      const known = ctx.registry.current.model.catalogue.ids;
      const added = items.filter((item) => known.get(item.id) === undefined).length;
      await ctx.store.upsertItems(items);
      // The version serving after the write (a swap may have happened meanwhile; it replays stored items).
      const { model } = ctx.registry.current;
      for (const item of items) model.upsertItem(item.id, item.features);
      ctx.metrics.itemsUpserted.inc(items.length);
      return { upserted: items.length, added, model: model.version, items: model.catalogue.size };
    },
  );
}
