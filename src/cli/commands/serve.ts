/**
 * `distillrec serve`: serve a model artefact over HTTP (docs/SERVING.md) until SIGINT or SIGTERM, then
 * finish the requests in flight and close the event store.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import pretty from "pino-pretty";
import { startServer } from "../../serve/server.js";
import { onlineLearning } from "../../online/serve.js";
import { parseRedisUrl, RedisUnreachableError, RedisUrlError } from "../../serve/redis.js";
import { nonNegativeInt, positiveInt, UsageError } from "./common.js";
import { defaultLogFormat, LOG_FORMATS, type LogFormat } from "./terminal.js";

export interface ServeOptions {
  model: string;
  models?: string;
  state?: string;
  /** redis://host:port[/db]: share events, items, the serving version and the learner with other servers. */
  redis?: string;
  /** With --redis and --online: the learner's lease, ms. */
  learnerLease?: number;
  host: string;
  port: number;
  token?: string;
  index: "exact" | "ivf" | "auto";
  bodyLimit?: number;
  requestTimeout?: number;
  maxConnections?: number;
  /** Requests per minute per client (off unless given). */
  rateLimit?: number;
  /** False with --no-shedding. */
  shedding?: boolean;
  quiet?: boolean;
  /** "human": pino-pretty lines; "json": pino's JSON lines (default when stdout is not a terminal). */
  logFormat?: LogFormat;
  online?: boolean;
  /** A directory, or false from --no-teacher. */
  teacher?: string | false;
  publishEvery?: number;
  redistillEvery?: number;
}

/** Start serving; resolves once the server listens, with a function that stops it. */
export async function serve(opts: ServeOptions): Promise<{ url: string; close: () => Promise<void> }> {
  const level = opts.quiet ? "warn" : "info";
  const logger =
    (opts.logFormat ?? defaultLogFormat()) === "human"
      ? pino({ level, base: undefined }, pretty({ sync: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" }))
      : pino({ level, base: undefined });
  const token = opts.token ?? process.env.DISTILLREC_TOKEN;
  if (opts.models !== undefined && !(existsSync(opts.models) && statSync(opts.models).isDirectory())) {
    throw new UsageError(`--models ${opts.models}: no such directory`);
  }
  if (opts.redis !== undefined) {
    try {
      parseRedisUrl(opts.redis);
    } catch (err) {
      if (err instanceof RedisUrlError) throw new UsageError(`--redis ${err.message}`);
      throw err;
    }
  }
  const server = await listening({
    model: opts.model,
    ...(opts.redis === undefined
      ? {}
      : {
          redis: {
            url: opts.redis,
            ...(opts.learnerLease === undefined ? {} : { leaseTtlMs: opts.learnerLease }),
          },
        }),
    ...(opts.models === undefined ? {} : { modelsDir: resolve(opts.models) }),
    stateDir: resolve(opts.state ?? "serve-state"),
    host: opts.host,
    port: opts.port,
    index: opts.index,
    ...(token ? { token } : {}),
    ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
    limits: {
      requestTimeout: opts.requestTimeout,
      maxConnections: opts.maxConnections,
      ...(opts.rateLimit === undefined ? {} : { rateLimit: { max: opts.rateLimit, timeWindow: 60_000 } }),
      ...(opts.shedding === false ? { shedding: false } : {}),
    },
    logger,
    ...(opts.online
      ? {
          learner: onlineLearning({
            ...(opts.teacher === undefined ? {} : { teacher: opts.teacher }),
            ...(opts.publishEvery === undefined ? {} : { publishEvery: opts.publishEvery }),
            ...(opts.redistillEvery === undefined ? {} : { loop: { redistillEvery: opts.redistillEvery } }),
          }),
        }
      : {}),
  });
  const { model } = server.registry.current;
  logger.info(
    {
      url: server.url,
      model: model.version,
      kind: model.kind,
      items: model.catalogue.size,
      writes: !!token,
      dashboard: `${server.url}/dashboard`,
      docs: `${server.url}/docs`,
    },
    "serving",
  );
  if (!token) logger.warn({}, "no token (--token or DISTILLREC_TOKEN): event, item and model writes are refused");
  return { url: server.url, close: server.close };
}

/** Start the server; an address it cannot listen on is the user's mistake, reported without a stack trace. */
async function listening(options: Parameters<typeof startServer>[0]): ReturnType<typeof startServer> {
  try {
    return await startServer(options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      throw new UsageError(`cannot listen: ${(err as Error).message}`);
    }
    if (err instanceof RedisUnreachableError) throw new UsageError(err.message);
    throw err;
  }
}

/** Commander parser for --port: a TCP port, 0 for any free one. */
function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number, 0 to 65535");
  return n;
}

/** The `serve` subcommand. */
export function serveCommand(): Command {
  return new Command("serve")
    .description("serve a model artefact over HTTP: recommendations, live events, new items, hot swaps")
    .requiredOption("--model <dir>", "model artefact directory to serve")
    .option("--models <dir>", "the only directory hot swaps may take artefacts from (default: the one holding --model)")
    .option("--state <dir>", "directory of the durable event log and catalogue (default ./serve-state)")
    .option(
      "--redis <url>",
      "redis://host:port[/db]: share events, items, the serving version and one learner with other servers (docs/DEPLOY.md)",
    )
    .option(
      "--learner-lease <ms>",
      "with --redis and --online: how long the learner's lease outlives it (default 10 000)",
      positiveInt,
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port to listen on (0: any free port)", port, 8080)
    .option("--token <token>", "bearer token for writes and administration (default: $DISTILLREC_TOKEN)")
    .addOption(
      new Option("--index <kind>", "item index: exact scan, IVF, or IVF from 500 000 items")
        .choices(["exact", "ivf", "auto"])
        .default("auto"),
    )
    .option("--body-limit <bytes>", "largest request body (default 4 MiB)", positiveInt)
    .option("--request-timeout <ms>", "time to receive a whole request, headers and body (default 30 000)", positiveInt)
    .option(
      "--max-connections <n>",
      "connections open at once (default 10 000, or the open-file limit less 256)",
      positiveInt,
    )
    .option(
      "--rate-limit <n>",
      "requests per minute per client: the token holder, else its address (default: off)",
      positiveInt,
    )
    .option("--no-shedding", "never answer 503 when the event loop lags (load shedding is on by default)")
    .option("--quiet", "only warnings in the log")
    .addOption(
      new Option("--log-format <format>", "readable log lines, or JSON lines for machines")
        .choices(LOG_FORMATS)
        .default(defaultLogFormat(), "human on a terminal, else json"),
    )
    .option("--online", "keep the student learning from the events in a background thread (docs/ONLINE.md)")
    .option("--teacher <dir>", "with --online: the teacher to re-distil from (default: the one beside --model)")
    .option("--no-teacher", "with --online: no teacher, no re-distillation")
    .option(
      "--publish-every <n>",
      "with --online: swap in the updated student every n events (0: only on promotion)",
      nonNegativeInt,
    )
    .option("--redistill-every <n>", "with --online: re-distil every n events (0: only on drift)", nonNegativeInt)
    .action(async (opts: ServeOptions) => {
      const { close } = await serve(opts);
      const stop = () => {
        void close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}
