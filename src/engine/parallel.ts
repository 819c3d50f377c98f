/**
 * Hogwild training on every core: worker threads rebuild the same model and optimiser over the same
 * shared WebAssembly memory and train on disjoint shards of each epoch without locks. Sparse embedding
 * updates rarely collide, which is why lock-free SGD works for recommendation models (Recht et al. 2011).
 *
 * A training program is a module that exports `program: TrainProgram`: how to build the trainable
 * objects from a plain config and shared data, and how to run one step on a batch of sample indices.
 * With `threads: 1` everything runs on the calling thread, deterministically.
 */
import { Worker } from "node:worker_threads";
import { runtime } from "./runtime.js";
import { endStep } from "./tensor.js";

/** Typed arrays over SharedArrayBuffers, visible to every worker. */
export type SharedData = Record<string, Int32Array | Float32Array | Float64Array | Uint8Array>;

/** What a program builds: anything with a training step over a batch of sample indices. */
export interface Trainable {
  /** Train on the samples `batch` (indices into the shared data); returns the summed loss. */
  step(batch: Int32Array): number;
  /** The optimiser `step` uses; every thread has its own, so the pool sets their lr (EpochOptions). */
  optimizer: { lr: number };
}

export interface TrainProgram<Config, Built extends Trainable> {
  /** Build the model and optimiser; must allocate deterministically (see Runtime.replayAllocations). */
  build(config: Config, data: SharedData, thread: number): Built;
}

export interface PoolOptions<Config> {
  /** URL of the module exporting `program` (e.g. `new URL("./bpr-program.js", import.meta.url).href`). */
  programUrl: string;
  config: Config;
  data: SharedData;
  /**
   * Most samples an epoch visits; default: the longest array in `data`, too many when it also holds longer
   * arrays than the samples (a teacher's parameters).
   */
  samples?: number;
  /** Threads including the calling one; 1 = single-threaded and deterministic. */
  threads: number;
}

export interface EpochOptions {
  /** Learning rate for every thread's optimiser from this epoch on (default: leave it as it is). */
  lr?: number;
}

export interface EpochResult {
  loss: number;
  samples: number;
}

/** Copy a typed array into shared memory so workers can read it without copies. */
export function shareArray<T extends Int32Array | Float32Array | Float64Array | Uint8Array>(values: T): T {
  const Ctor = values.constructor as new (buffer: SharedArrayBuffer) => T;
  const shared = new Ctor(new SharedArrayBuffer(values.byteLength));
  shared.set(values as never);
  return shared;
}

export class TrainingPool<Built extends Trainable> {
  private constructor(
    /** The calling thread's instance: evaluate or save it between epochs. */
    readonly local: Built,
    private readonly workers: Worker[],
    private readonly order: Int32Array,
  ) {}

  /** Build the program here, then start `threads - 1` workers sharing its memory (one at a time). */
  static async start<Config, Built extends Trainable>(opts: PoolOptions<Config>): Promise<TrainingPool<Built>> {
    const { program } = (await import(opts.programUrl)) as { program: TrainProgram<Config, Built> };
    const rt = runtime();
    const { result: local, blocks } = rt.recordAllocations(() => program.build(opts.config, opts.data, 0));
    const sampleCount = opts.samples ?? Math.max(...Object.values(opts.data).map((a) => a.length), 0);
    const order = new Int32Array(new SharedArrayBuffer(Math.max(sampleCount, 1) * 4));
    const workers: Worker[] = [];
    try {
      for (let thread = 1; thread < opts.threads; thread++) {
        const worker = new Worker(new URL("./worker.js", import.meta.url), {
          workerData: {
            programUrl: opts.programUrl,
            config: opts.config,
            data: opts.data,
            memory: rt.memory,
            blocks,
            order,
            thread,
          },
        });
        workers.push(worker);
        await reply(worker); // "ready": replay must not overlap another worker's
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new TrainingPool(local, workers, order);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Train one pass over `samples` (indices into the shared data, in the order to visit them), in
   * batches of `batchSize`. Each thread takes a contiguous shard. `options.lr` reaches every thread's
   * optimiser before its shard.
   */
  async epoch(samples: Int32Array, batchSize: number, options: EpochOptions = {}): Promise<EpochResult> {
    if (samples.length > this.order.length) {
      throw new RangeError(`epoch: ${samples.length} samples exceed the pool's ${this.order.length}`);
    }
    if (options.lr !== undefined) {
      if (!(options.lr >= 0 && Number.isFinite(options.lr))) {
        throw new RangeError(`epoch: lr must be a non-negative number, got ${options.lr}`);
      }
      this.local.optimizer.lr = options.lr;
    }
    this.order.set(samples);
    const n = samples.length;
    const shards = this.threads;
    // Shard boundaries on batch multiples, so every thread sees full batches except the last.
    const batches = Math.ceil(n / batchSize);
    const bounds = Array.from({ length: shards + 1 }, (_, s) =>
      Math.min(n, Math.round((batches * s) / shards) * batchSize),
    );
    const pending = this.workers.map((worker, w) => {
      worker.postMessage({ start: bounds[w + 1], end: bounds[w + 2], batchSize, lr: options.lr });
      return reply(worker) as Promise<EpochResult>;
    });
    const mine = runShard(this.local, this.order, bounds[0]!, bounds[1]!, batchSize);
    const results = [mine, ...(await Promise.all(pending))];
    return results.reduce((a, b) => ({ loss: a.loss + b.loss, samples: a.samples + b.samples }));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/** Run batches [start, end) of `order` through `built.step`, releasing scratch memory after each. */
export function runShard(
  built: Trainable,
  order: Int32Array,
  start: number,
  end: number,
  batchSize: number,
): EpochResult {
  let loss = 0;
  for (let s = start; s < end; s += batchSize) {
    loss += built.step(order.subarray(s, Math.min(end, s + batchSize)));
    endStep();
  }
  return { loss, samples: Math.max(0, end - start) };
}

function reply(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { ok: boolean; value?: unknown; error?: string }): void => {
      cleanup();
      if (msg.ok) resolve(msg.value);
      else reject(new Error(`training worker failed: ${msg.error}`));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`training worker exited with code ${code}`));
    };
    const cleanup = (): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}
