// Liveness, readiness and the Prometheus scrape endpoint.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";

/** Neither shed nor rate-limited: probes and scrapes must tell "busy" from "dead" however loaded the server is. */
const config = { pressureHandler: () => undefined, rateLimit: false } as const;

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get("/healthz", { config }, async () => ({ status: "ok" }));
  app.get("/readyz", { config }, async () => {
    const { model } = ctx.registry.current;
    return { status: "ready", model: model.version, items: model.catalogue.size, events: ctx.store.count() };
  });
  app.get("/metrics", { config }, async (_request, reply) => {
    reply.header("content-type", ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
