// Writes: feedback events and catalogue items, stored durably before they are acknowledged and applied at
// once, so the next recommendation reflects them.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";
import type { FeedbackEvent, ItemRecord } from "../store.js";

/** Largest batches: about a second of ingest at the target rate, and well inside the body limit. */
const MAX_EVENTS = 20_000;
const MAX_ITEMS = 5_000;

// A type list, not anyOf: with type coercion on (for query strings), anyOf would turn 12.5 into "12.5".
const featureValue = {
  type: ["string", "number", "array"],
  items: { type: "string" },
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
                  user: { type: "string", minLength: 1, maxLength: 256 },
                  item: { type: "string", minLength: 1, maxLength: 256 },
                  type: { type: "string", minLength: 1, maxLength: 64 },
                  value: { type: "number" },
                  timestamp: { type: "number", minimum: 0 },
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const now = Date.now();
      const events: FeedbackEvent[] = request.body.events.map((e) => ({ ...e, timestamp: e.timestamp ?? now }));
      const { first, count } = await ctx.store.append(events);
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
                  id: { type: "string", minLength: 1, maxLength: 256 },
                  features: { type: "object", additionalProperties: featureValue, maxProperties: 64 },
                },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
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
      await ctx.store.upsertItems(items);
      // The version serving after the write (a swap may have happened meanwhile; it replays stored items).
      const { model } = ctx.registry.current;
      const added = items.filter((item) => model.catalogue.ids.get(item.id) === undefined).length;
      for (const item of items) model.upsertItem(item.id, item.features);
      ctx.metrics.itemsUpserted.inc(items.length);
      return { upserted: items.length, added, model: model.version, items: model.catalogue.size };
    },
  );
}
