// Administration: which model versions are loaded, hot swap to another artefact, rollback. Artefacts are
// named relative to the models directory, in requests and answers alike: no server path reaches a client.
import type { FastifyInstance } from "fastify";
import { ArtefactError } from "../../models/artefact.js";
import type { ServeContext } from "../context.js";
import { nameInModelsDir, resolveInModelsDir } from "../models-dir.js";
import { bearer, errorResponses } from "../openapi.js";
import { nullableString, responseObject } from "../schemas.js";

/** A swap's or rollback's answer: the version replaced and the one serving now. */
const swapped = {
  200: responseObject({ from: { type: "string" }, to: { type: "string" } }),
  ...errorResponses,
};

const models = responseObject({
  current: responseObject({
    version: { type: "string" },
    kind: { type: "string" },
    name: nullableString,
    loadedAt: { type: "string" },
  }),
  previous: nullableString,
});

export async function adminRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get("/models", { schema: { response: { 200: models, ...errorResponses } } }, async () => {
    const { model } = ctx.registry.current;
    return {
      current: {
        version: model.version,
        kind: model.kind,
        // null: the artefact lies outside the models directory (the one served at start, an online student).
        name: nameInModelsDir(ctx.registry.modelsDir, model.dir),
        loadedAt: model.loadedAt,
      },
      previous: ctx.registry.previousVersion ?? null,
    };
  });

  app.put<{ Body: { dir: string } }>(
    "/models/current",
    {
      onRequest: ctx.requireToken,
      schema: {
        body: {
          type: "object",
          required: ["dir"],
          properties: { dir: { type: "string", minLength: 1 } },
          additionalProperties: false,
        },
        security: bearer,
        response: swapped,
      },
    },
    async (request) => {
      const { modelsDir } = ctx.registry;
      try {
        const swapped = ctx.registry.swap(resolveInModelsDir(modelsDir, request.body.dir));
        ctx.metrics.swaps.inc({ action: "swap", result: "ok" });
        request.log.info(swapped, "model swapped");
        return swapped;
      } catch (err) {
        ctx.metrics.swaps.inc({ action: "swap", result: "refused" });
        request.log.warn({ err, dir: request.body.dir }, "model swap refused; the current version keeps serving");
        // The reason names the refused file relative to the models directory, as the client named it.
        if (err instanceof ArtefactError) {
          throw new ArtefactError(nameInModelsDir(modelsDir, err.source) ?? request.body.dir, err.reason);
        }
        throw err;
      }
    },
  );

  app.post(
    "/models/rollback",
    { onRequest: ctx.requireToken, schema: { security: bearer, response: swapped } },
    async (request) => {
      const rolled = ctx.registry.rollback();
      ctx.metrics.swaps.inc({ action: "rollback", result: "ok" });
      request.log.info(rolled, "model rolled back");
      return rolled;
    },
  );
}
