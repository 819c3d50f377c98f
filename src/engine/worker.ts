// A training worker: rebuilds the program over the shared memory, then runs the shards or slices it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { runShard, runSlices, type SharedData, type TrainProgram, type Trainable } from "./parallel.js";
import { attachRuntime } from "./runtime.js";
import { StepExchange } from "./step-exchange.js";

interface Init {
  programUrl: string;
  config: unknown;
  data: SharedData;
  memory: WebAssembly.Memory;
  blocks: [number, number][];
  order: Int32Array;
  thread: number;
  /** Threads in the pool, the calling one included. */
  threads: number;
  /** The synchronous steps' control block, or null for Hogwild shards. */
  exchange: { control: Int32Array; params: number } | null;
}

const init = workerData as Init;
const port = parentPort!;

try {
  const rt = attachRuntime(init.memory);
  const { program } = (await import(init.programUrl)) as { program: TrainProgram<unknown, Trainable> };
  const built = rt.replayAllocations(init.blocks, () => program.build(init.config, init.data, init.thread));
  const exchange = init.exchange && StepExchange.attach(init.exchange.control, init.exchange.params);
  port.on("message", (msg: { start: number; end: number; batchSize: number; firstStep: number; lr?: number }) => {
    try {
      if (msg.lr !== undefined) built.optimizer.lr = msg.lr;
      const result = exchange
        ? runSlices(built, init.order, msg.end, msg.batchSize, msg.firstStep, init.thread, init.threads, exchange)
        : runShard(built, init.order, msg.start, msg.end, msg.batchSize, msg.firstStep);
      port.postMessage({ ok: true, value: result });
    } catch (err) {
      exchange?.fail();
      port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
  port.postMessage({ ok: true });
} catch (err) {
  port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
