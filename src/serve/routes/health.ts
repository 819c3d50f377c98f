// Liveness, readiness and the Prometheus scrape endpoint.
import type { FastifyInstance } from "fastify";
import type { ServeContext } from "../context.js";
import { errorResponses } from "../openapi.js";
import { responseObject as object } from "../schemas.js";

/** Neither shed nor rate-limited: probes and scrapes must tell "busy" from "dead" however loaded the server is. */
const config = { pressureHandler: () => undefined, rateLimit: false } as const;

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: ServeContext }): Promise<void> {
  app.get(
    "/healthz",
    { config, schema: { response: { 200: object({ status: { type: "string" } }), ...errorResponses } } },
    async () => ({ status: "ok" }),
  );
  const ready = object({
    status: { type: "string" },
    model: { type: "string" },
    items: { type: "integer" },
    events: { type: "integer" },
  });
  app.get("/readyz", { config, schema: { response: { 200: ready, ...errorResponses } } }, async () => {
    const { model } = ctx.registry.current;
    return { status: "ready", model: model.version, items: model.catalogue.size, events: ctx.store.count() };
  });
  // Text, not JSON: declared by content type so that it is sent as it is.
  const metrics = { content: { "text/plain": { schema: { type: "string" } } } };
  app.get(
    "/metrics",
    { config, schema: { response: { 200: metrics, ...errorResponses } } },
    async (_request, reply) => {
      reply.header("content-type", ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );
}
