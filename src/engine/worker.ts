// A training worker: rebuilds the program over the shared memory, then runs the shards it is sent.
import { parentPort, workerData } from "node:worker_threads";
import { runShard, type SharedData, type TrainProgram, type Trainable } from "./parallel.js";
import { attachRuntime } from "./runtime.js";

interface Init {
  programUrl: string;
  config: unknown;
  data: SharedData;
  memory: WebAssembly.Memory;
  blocks: [number, number][];
  order: Int32Array;
  thread: number;
}

const init = workerData as Init;
const port = parentPort!;

try {
  const rt = attachRuntime(init.memory);
  const { program } = (await import(init.programUrl)) as { program: TrainProgram<unknown, Trainable> };
  const built = rt.replayAllocations(init.blocks, () => program.build(init.config, init.data, init.thread));
  port.on("message", (msg: { start: number; end: number; batchSize: number; lr?: number }) => {
    try {
      if (msg.lr !== undefined) built.optimizer.lr = msg.lr;
      port.postMessage({ ok: true, value: runShard(built, init.order, msg.start, msg.end, msg.batchSize) });
    } catch (err) {
      port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
  port.postMessage({ ok: true });
} catch (err) {
  port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
}
