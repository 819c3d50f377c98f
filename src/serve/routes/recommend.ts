// Reads: recommendations for a user, re-ranking a caller's candidates, item-to-item neighbours.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";
import { HttpError } from "../errors.js";
import type { AttributeFilter } from "../catalogue.js";
import type { Deployment } from "../registry.js";
import { errorResponses } from "../openapi.js";
import { idSchema, responseObject } from "../schemas.js";

const itemList = {
  type: "array",
  items: {
    type: "object",
    required: ["id", "score"],
    properties: { id: { type: "string" }, score: { type: "number" } },
  },
} as const;

const k = { type: "integer", minimum: 1, maximum: 1000, finite: true, default: 10 } as const;

/** "category:shoes" → { attribute: "category", value: "shoes" }. */
function parseFilter(text: string): AttributeFilter {
  const colon = text.indexOf(":");
  if (colon <= 0 || colon === text.length - 1) {
    throw new HttpError(400, `filter "${text}" is not of the form attribute:value`);
  }
  return { attribute: text.slice(0, colon), value: text.slice(colon + 1) };
}

/** The user as the model sees them: its index (if it knows them) and their recent items. */
function userOf(deployment: Deployment, userId: string) {
  return { index: deployment.model.artefact.users.get(userId), history: deployment.state.recent(userId) };
}

function listed(deployment: Deployment, items: Int32Array, scores: Float32Array) {
  const ids = deployment.model.catalogue.ids;
  return Array.from(items, (item, r) => ({ id: ids.external(item), score: scores[r]! }));
}

export async function recommendRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get<{
    Params: { userId: string };
    Querystring: { k: number; excludeSeen: boolean; filter?: string[]; exclude?: string[] };
  }>(
    "/recommend/:userId",
    {
      schema: {
        params: { type: "object", properties: { userId: idSchema } },
        querystring: {
          type: "object",
          properties: {
            k,
            excludeSeen: { type: "boolean", default: true },
            filter: { type: "array", items: { type: "string" }, maxItems: 16 },
            exclude: { type: "array", items: { type: "string" }, maxItems: 1000 },
          },
          additionalProperties: false,
        },
        response: {
          200: responseObject(
            { user: { type: "string" }, model: { type: "string" }, items: itemList, fallback: { type: "string" } },
            ["user", "model", "items"],
          ),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const deployment = ctx.registry.current;
      const { model, popularity } = deployment;
      const { userId } = request.params;
      const { k: count, excludeSeen } = request.query;
      const user = userOf(deployment, userId);
      // exclude=i1,i2 and exclude=i1&exclude=i2 alike.
      const excluded = (request.query.exclude ?? [])
        .flatMap((list) => list.split(","))
        .flatMap((id) => {
          const i = model.catalogue.ids.get(id);
          return i === undefined ? [] : [i];
        });
      if (excludeSeen) excluded.push(...user.history);
      const mask = model.catalogue.exclusionMask((request.query.filter ?? []).map(parseFilter), excluded);
      const started = performance.now();
      if (user.index === undefined && user.history.length === 0) {
        // Nothing known about this user yet: the most popular items, and the response says so.
        ctx.metrics.fallbacks.inc();
        const items = popularity.top(count, mask);
        return {
          user: userId,
          model: model.version,
          items: listed(
            deployment,
            items,
            Float32Array.from(items, (i) => popularity.score(i)),
          ),
          fallback: "popular",
        };
      }
      const ranked = model.recommend(user, count, mask);
      ctx.metrics.retrievalSeconds.observe((performance.now() - started) / 1000);
      return { user: userId, model: model.version, items: listed(deployment, ranked.items, ranked.scores) };
    },
  );

  app.post<{ Body: { user: string; items: string[] } }>(
    "/rank",
    {
      schema: {
        body: {
          type: "object",
          required: ["user", "items"],
          properties: {
            user: idSchema,
            items: { type: "array", items: idSchema, minItems: 1, maxItems: 10_000 },
          },
          additionalProperties: false,
        },
        response: {
          200: responseObject({
            user: { type: "string" },
            model: { type: "string" },
            items: itemList,
            unknown: { type: "array", items: { type: "string" } },
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const deployment = ctx.registry.current;
      const { model } = deployment;
      const known: number[] = [];
      const unknown: string[] = [];
      for (const id of request.body.items) {
        const i = model.catalogue.ids.get(id);
        if (i === undefined) unknown.push(id);
        else known.push(i);
      }
      const items = Int32Array.from(known);
      const scores = model.rank(userOf(deployment, request.body.user), items);
      const order = Array.from(items.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
      return {
        user: request.body.user,
        model: model.version,
        items: order.map((r) => ({ id: model.catalogue.ids.external(items[r]!), score: scores[r]! })),
        unknown,
      };
    },
  );

  app.get<{ Params: { itemId: string }; Querystring: { k: number } }>(
    "/similar/:itemId",
    {
      schema: {
        params: { type: "object", properties: { itemId: idSchema } },
        querystring: { type: "object", properties: { k }, additionalProperties: false },
        response: {
          200: responseObject({ item: { type: "string" }, model: { type: "string" }, items: itemList }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const deployment = ctx.registry.current;
      const { model } = deployment;
      const item = model.catalogue.ids.get(request.params.itemId);
      if (item === undefined) throw new HttpError(404, `unknown item "${request.params.itemId}"`);
      const ranked = model.similar(item, request.query.k, new Uint8Array(model.catalogue.size));
      return {
        item: request.params.itemId,
        model: model.version,
        items: listed(deployment, ranked.items, ranked.scores),
      };
    },
  );
}
