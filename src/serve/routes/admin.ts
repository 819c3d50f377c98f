// Administration: which model versions are loaded, hot swap to another artefact, rollback. Artefacts are
// named relative to the models directory, in requests and answers alike: no server path reaches a client.
import type { FastifyInstance } from "fastify";
import { ArtefactError } from "../../models/artefact.js";
import type { ServeContext } from "../context.js";
import { nameInModelsDir, resolveInModelsDir } from "../models-dir.js";

export async function adminRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get("/models", async () => {
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

  app.post("/models/rollback", { onRequest: ctx.requireToken }, async (request) => {
    const rolled = ctx.registry.rollback();
    ctx.metrics.swaps.inc({ action: "rollback", result: "ok" });
    request.log.info(rolled, "model rolled back");
    return rolled;
  });
}
