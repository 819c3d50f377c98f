// Liveness, readiness and the Prometheus scrape endpoint.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async () => {
    const { model } = ctx.registry.current;
    return { status: "ready", model: model.version, items: model.catalogue.size, events: ctx.store.count() };
  });
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
