// Administration: which model versions are loaded, hot swap to another artefact, rollback.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";

export async function adminRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get("/models", async () => {
    const { model } = ctx.registry.current;
    return {
      current: { version: model.version, kind: model.kind, dir: model.dir, loadedAt: model.loadedAt },
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
      try {
        const swapped = ctx.registry.swap(request.body.dir);
        ctx.metrics.swaps.inc({ action: "swap", result: "ok" });
        request.log.info(swapped, "model swapped");
        return swapped;
      } catch (err) {
        ctx.metrics.swaps.inc({ action: "swap", result: "refused" });
        request.log.warn({ err, dir: request.body.dir }, "model swap refused; the current version keeps serving");
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
