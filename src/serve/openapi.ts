/**
 * The API described for people and tools: every route's JSON schemas published as an OpenAPI 3.1 document
 * at /openapi.json (@fastify/swagger collects them as routes are registered, so this comes before them) and
 * a Swagger UI page at /docs, its files served from swagger-ui-dist (no CDN).
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import swagger from "@fastify/swagger";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { distillrecVersion } from "../models/artefact.js";
import { staticFile } from "./static-files.js";

/** Error responses: the one shape every refusal has (errors.ts errorBody). */
export const errorSchema = {
  type: "object",
  required: ["statusCode", "error", "message"],
  properties: { statusCode: { type: "integer" }, error: { type: "string" }, message: { type: "string" } },
} as const;

/** The error responses every route may give, for its `response` schema. */
export const errorResponses = { "4xx": errorSchema, "5xx": errorSchema } as const;

/** What the token-guarded routes declare (the document shows a lock on them). */
export const bearer = [{ bearer: [] }];

/** The Swagger UI files the docs page loads; nothing else of the package is served. */
const UI_FILES = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"]);

/** Register the document's collector, /openapi.json and /docs; call before any route is registered. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "distillrec",
        version: distillrecVersion(),
        description:
          "Recommendations from a distilled model, live feedback events, catalogue items and model versions. " +
          "Writes, administration and the dashboard's data need `Authorization: Bearer <token>` when the server has one.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  const ui = dirname(fileURLToPath(import.meta.resolve("swagger-ui-dist")));
  await app.register(fastifyStatic, {
    root: ui,
    prefix: "/docs/ui/",
    decorateReply: false,
    index: false,
    allowedPath: (path) => UI_FILES.has(path.replace(/^\//, "")),
  });
  const page = readFileSync(staticFile("docs.html"));
  const init = readFileSync(staticFile("docs.js"));
  app.get("/docs", { schema: { hide: true } }, async (_request, reply) => reply.type("text/html").send(page));
  app.get("/docs/init.js", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("text/javascript").send(init),
  );
}
