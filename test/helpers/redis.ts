// A real redis-server for the tests, on a free port in a temporary directory, as durable as the
// deployment docs ask (appendonly, appendfsync always), stopped after.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BINARY = "redis-server";

/** Why the Redis tests cannot run (no redis-server outside CI), or undefined when they can. */
export function redisMissing(): string | undefined {
  if (spawnSync(BINARY, ["--version"], { stdio: "ignore" }).status === 0) return undefined;
  // In CI the binary is installed (.ci/run): its absence is a failure, not a reason to skip.
  if (process.env.CI) throw new Error("redis-server is not installed, and CI must run the Redis tests");
  return "redis-server is not installed (apt-get install redis-server): the Redis tests are skipped";
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class TestRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start a redis-server; resolves once it accepts connections. */
  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), mkdtempSync(join(tmpdir(), "distillrec-redis-")));
    await redis.restart();
    return redis;
  }

  /** Start it again (same port, same directory: the append-only file is replayed). */
  async restart(): Promise<void> {
    const child = spawn(
      BINARY,
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("Ready to accept connections")) {
          child.stdout!.off("data", onData);
          child.stdout!.resume();
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.resume();
      child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  }

  /** kill -9: whatever Redis acknowledged is in its append-only file already. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
