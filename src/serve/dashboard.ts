/**
 * The dashboard at /dashboard: a page (static files, vega-lite for the charts, all served from here — no
 * CDN) polling JSON endpoints under /dashboard/api for the serving model and its lineage, the traffic, online
 * learning's quality and decisions, the catalogue and popular items, and one user's history. The data needs
 * the bearer token when the server has one (the page asks for it once and keeps it for the tab); the page
 * itself holds no data and is open.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServeContext } from "./context.js";
import { brief, runReportOf, shownLineage, teacherOf, type ModelBrief } from "./lineage.js";
import type { OnlineStatus, TrafficRecorder } from "./live.js";
import { nameInModelsDir } from "./models-dir.js";
import { bearer, errorResponses } from "./openapi.js";
import { HttpError } from "./errors.js";
import { idSchema, nullableString, responseObject } from "./schemas.js";
import { STATIC_DIR, staticFile } from "./static-files.js";
import type { ServingModel } from "./model.js";

export interface DashboardOptions {
  ctx: ServeContext;
  traffic: TrafficRecorder;
  /** Checks the bearer token when the server has one (an onRequest hook); undefined: the data is open. */
  guard?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** What online learning reports, when a learner runs. */
  online?: () => OnlineStatus;
  /** How often the traffic is sampled, ms (default 1 000). */
  sampleMs?: number;
}

/** Popular items listed. */
const POPULAR = 10;

/** The browser builds of the chart libraries, by the file name the page asks for. */
function vendorFiles(): Map<string, string> {
  // Each package's entry point lies in its build directory, beside the browser bundle.
  const build = (name: string) => dirname(fileURLToPath(import.meta.resolve(name)));
  return new Map([
    ["vega.min.js", join(build("vega"), "vega.min.js")],
    ["vega-lite.js", join(build("vega-lite"), "vega-lite.js")],
    ["vega-embed.min.js", join(build("vega-embed"), "vega-embed.min.js")],
  ]);
}

const brief$ = responseObject({
  version: { type: "string" },
  kind: { type: "string" },
  parameters: { type: "integer" },
  fileBytes: { type: "integer" },
  metrics: { type: "object", additionalProperties: { type: "number" } },
});

const nullableNumber = { type: ["number", "null"] } as const;

const statusSchema = responseObject(
  {
    model: responseObject(
      {
        version: { type: "string" },
        kind: { type: "string" },
        name: nullableString,
        loadedAt: { type: "string" },
        parameters: { type: "integer" },
        bytes: { type: "integer" },
        fileBytes: { type: "integer" },
        flopsPerItem: { type: "number" },
        users: { type: "integer" },
        metrics: { type: "object", additionalProperties: { type: "number" } },
        lineage: { type: "object", additionalProperties: { type: ["string", "number"] } },
        teacher: { anyOf: [brief$, { type: "null" }] },
      },
      ["version", "kind", "name", "loadedAt", "parameters", "bytes", "fileBytes", "metrics", "lineage", "teacher"],
    ),
    previous: nullableString,
    report: {
      anyOf: [responseObject({ run: { type: "string" }, url: { type: "string" } }), { type: "null" }],
    },
    catalogue: responseObject({
      items: { type: "integer" },
      modelItems: { type: "integer" },
      attributes: { type: "array", items: { type: "string" } },
    }),
    popular: {
      type: "array",
      items: responseObject({ id: { type: "string" }, score: { type: "number" } }),
    },
    users: { type: "integer" },
    events: { type: "integer" },
    traffic: {
      type: "array",
      items: responseObject({
        time: { type: "number" },
        requestsPerSecond: { type: "number" },
        p50: nullableNumber,
        p95: nullableNumber,
        p99: nullableNumber,
        eventsPerSecond: { type: "number" },
      }),
    },
    online: {
      anyOf: [
        responseObject(
          {
            state: { type: "string" },
            learned: { type: "integer" },
            lag: { type: "integer" },
            error: { type: "string" },
            windows: {
              type: "array",
              items: responseObject({
                time: { type: "number" },
                at: { type: "integer" },
                events: { type: "integer" },
                hr: { type: "number" },
                ndcg: { type: "number" },
              }),
            },
            decisions: {
              type: "array",
              items: responseObject(
                {
                  time: { type: "number" },
                  at: { type: "integer" },
                  kind: { type: "string" },
                  reason: { type: "string" },
                  serving: { type: "number" },
                  other: { type: "number" },
                },
                ["time", "at", "kind", "reason"],
              ),
            },
          },
          ["state", "learned", "lag", "windows", "decisions"],
        ),
        { type: "null" },
      ],
    },
  },
  ["model", "previous", "report", "catalogue", "popular", "users", "events", "traffic", "online"],
);

const userSchema = responseObject({
  user: { type: "string" },
  model: { type: "string" },
  known: { type: "boolean" },
  events: { type: "integer" },
  history: { type: "array", items: { type: "string" } },
});

/** What is read from disk once per model version: the teacher and the run's report. */
interface Provenance {
  version: string;
  teacher: ModelBrief | null;
  report: { run: string; path: string } | undefined;
}

/** Register /dashboard, its files and its data endpoints (call on the root instance). */
export async function registerDashboard(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { ctx, traffic } = options;
  const onRequest = options.guard ? { onRequest: options.guard } : {};
  const security = options.guard ? { security: bearer } : {};

  // Sampled on a timer, so the rates do not depend on how often anyone looks.
  traffic.tick(Date.now(), ctx.store.count());
  const timer = setInterval(() => traffic.tick(Date.now(), ctx.store.count()), options.sampleMs ?? 1000);
  timer.unref();
  app.addHook("onClose", async () => clearInterval(timer));

  let provenance: Provenance | undefined;
  const provenanceOf = (model: ServingModel): Provenance => {
    if (provenance?.version === model.version) return provenance;
    const { manifest } = model.artefact;
    const teacher = teacherOf(model.dir, manifest, ctx.registry.modelsDir);
    provenance = {
      version: model.version,
      teacher: teacher ? brief(teacher) : null,
      report: runReportOf(model.dir, manifest, ctx.registry.modelsDir),
    };
    return provenance;
  };

  const page = readFileSync(staticFile("dashboard.html"));
  app.get("/dashboard", { schema: { hide: true } }, async (_request, reply) => reply.type("text/html").send(page));
  await app.register(fastifyStatic, {
    root: STATIC_DIR,
    prefix: "/dashboard/assets/",
    decorateReply: false,
    index: false,
    allowedPath: (path) => /^\/dashboard\.(js|css)$/.test(path),
  });
  const vendor = vendorFiles();
  await app.register(fastifyStatic, {
    root: [...new Set([...vendor.values()].map((path) => dirname(path)))],
    prefix: "/dashboard/vendor/",
    decorateReply: false,
    index: false,
    // Only the three bundles, whichever of the build directories holds each.
    allowedPath: (path) => vendor.has(path.replace(/^\//, "")),
  });

  app.get(
    "/dashboard/api/session",
    {
      schema: {
        summary: "whether the dashboard's data needs the bearer token (open, so the page knows to ask for it)",
        response: { 200: responseObject({ token: { type: "string", enum: ["required", "none"] } }), ...errorResponses },
      },
    },
    async () => ({ token: options.guard ? "required" : "none" }),
  );

  app.get(
    "/dashboard/api/status",
    {
      ...onRequest,
      schema: {
        summary: "everything the dashboard shows: model and lineage, traffic, online learning, catalogue",
        ...security,
        response: { 200: statusSchema, ...errorResponses },
      },
    },
    async () => {
      const { model, popularity, state } = ctx.registry.current;
      const { manifest } = model.artefact;
      const { teacher, report } = provenanceOf(model);
      const top = popularity.top(POPULAR);
      return {
        model: {
          version: model.version,
          kind: model.kind,
          name: nameInModelsDir(ctx.registry.modelsDir, model.dir),
          loadedAt: model.loadedAt,
          parameters: manifest.parameters,
          bytes: manifest.bytes,
          fileBytes: manifest.files["weights.bin"].bytes,
          flopsPerItem: manifest.flopsPerItem,
          users: manifest.numUsers,
          metrics: manifest.metrics,
          lineage: shownLineage(manifest),
          teacher,
        },
        previous: ctx.registry.previousVersion ?? null,
        report: report ? { run: report.run, url: "/dashboard/report" } : null,
        catalogue: {
          items: model.catalogue.size,
          modelItems: model.modelItems,
          attributes: model.catalogue.attributeNames,
        },
        popular: Array.from(top, (item) => ({ id: model.catalogue.ids.external(item), score: popularity.score(item) })),
        users: state.users(),
        events: ctx.store.count(),
        traffic: traffic.series(),
        online: options.online?.() ?? null,
      };
    },
  );

  app.get<{ Params: { userId: string } }>(
    "/dashboard/api/users/:userId",
    {
      ...onRequest,
      schema: {
        summary: "a user's recent items (oldest first) as the serving model reads them",
        ...security,
        params: { type: "object", properties: { userId: idSchema } },
        response: { 200: userSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { model, state } = ctx.registry.current;
      const { userId } = request.params;
      const ids = model.catalogue.ids;
      return {
        user: userId,
        model: model.version,
        known: model.artefact.users.get(userId) !== undefined,
        events: state.eventsOf(userId),
        history: Array.from(state.recent(userId), (item) => ids.external(item)),
      };
    },
  );

  app.get(
    "/dashboard/report",
    {
      ...onRequest,
      schema: {
        summary: "the report of the pipeline run that produced the serving model (HTML)",
        ...security,
        response: { 200: { content: { "text/html": { schema: { type: "string" } } } }, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const { report } = provenanceOf(ctx.registry.current.model);
      if (!report) throw new HttpError(404, "the serving model names no pipeline run whose report is on this server");
      return reply.type("text/html").send(readFileSync(report.path));
    },
  );
}
