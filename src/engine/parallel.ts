/**
 * Training on every core: worker threads rebuild the same model and optimiser over the same shared
 * WebAssembly memory. How they share the work is chosen by the parameters:
 * - a model made only of sparse embedding tables updated row-wise trains Hogwild: each thread takes a
 *   shard of the epoch and updates without locks, because sparse rows rarely collide (Recht et al. 2011);
 * - a model with any dense weight (or a table updated whole) trains in synchronous steps: every batch is
 *   split across the threads, and one optimiser step follows on their summed gradients (step-exchange.ts),
 *   so more threads train faster without training differently.
 *
 * A training program is a module that exports `program: TrainProgram`: how to build the trainable
 * objects from a plain config and shared data, and how to back-propagate a batch of sample indices.
 * With `threads: 1` everything runs on the calling thread, deterministically.
 */
import { Worker } from "node:worker_threads";
import type { Optimizer } from "./optim.js";
import { runtime } from "./runtime.js";
import { needsSynchronousSteps, StepExchange, StepExchangeFailed } from "./step-exchange.js";
import { endStep } from "./tensor.js";

/** Typed arrays over SharedArrayBuffers, visible to every worker. */
export type SharedData = Record<string, Int32Array | Float32Array | Float64Array | Uint8Array>;

/** What a program builds: a model's loss over a batch of sample indices, and the optimiser of its parameters. */
export interface Trainable {
  /**
   * Back-propagate the loss of the samples `batch` (indices into the shared data) weighted by `share`, the
   * part of the whole step's samples it holds (1 unless a batch is split across threads), accumulating
   * gradients without updating. `step` counts the pool's optimiser steps (the same on every thread holding
   * a slice of the batch). Returns the batch's summed loss, or null when it has nothing to learn from.
   */
  backward(batch: Int32Array, share: number, step: number): number | null;
  /** The optimiser of the trained parameters; every thread has its own, so the pool sets their lr (EpochOptions). */
  optimizer: Optimizer;
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
    /** Set when the parameters need synchronous steps (see needsSynchronousSteps); else Hogwild shards. */
    private readonly exchange: StepExchange | null,
  ) {}

  /** Optimiser steps of every epoch so far (batches, whichever thread took them). */
  private steps = 0;

  /** Build the program here, then start `threads - 1` workers sharing its memory (one at a time). */
  static async start<Config, Built extends Trainable>(opts: PoolOptions<Config>): Promise<TrainingPool<Built>> {
    const { program } = (await import(opts.programUrl)) as { program: TrainProgram<Config, Built> };
    const rt = runtime();
    const { result: local, blocks } = rt.recordAllocations(() => program.build(opts.config, opts.data, 0));
    const sampleCount = opts.samples ?? Math.max(...Object.values(opts.data).map((a) => a.length), 0);
    const order = new Int32Array(new SharedArrayBuffer(Math.max(sampleCount, 1) * 4));
    const params = local.optimizer.params.length;
    const exchange =
      opts.threads > 1 && needsSynchronousSteps(local.optimizer) ? StepExchange.create(opts.threads - 1, params) : null;
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
            threads: opts.threads,
            exchange: exchange ? { control: exchange.control, params } : null,
          },
        });
        workers.push(worker);
        await reply(worker); // "ready": replay must not overlap another worker's
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new TrainingPool(local, workers, order, exchange);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Whether the threads take synchronous steps on split batches (true) or Hogwild shards (false). */
  get synchronous(): boolean {
    return this.exchange !== null;
  }

  /**
   * Train one pass over `samples` (indices into the shared data, in the order to visit them), in
   * batches of `batchSize`: Hogwild, each thread a contiguous shard of whole batches; synchronous, each
   * thread a slice of every batch. `options.lr` reaches every thread's optimiser before its work.
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
    const firstStep = this.steps;
    this.steps += Math.ceil(n / batchSize);
    const exchange = this.exchange;
    if (exchange) {
      exchange.reset();
      const pending = this.workers.map((worker) => {
        worker.postMessage({ start: 0, end: n, batchSize, firstStep, lr: options.lr });
        return reply(worker) as Promise<EpochResult>;
      });
      let mine: EpochResult;
      try {
        mine = runSlices(this.local, this.order, n, batchSize, firstStep, 0, this.threads, exchange);
      } catch (err) {
        exchange.fail();
        // A worker's own error says why, where this thread only saw that the step failed.
        const failed = (await Promise.allSettled(pending)).find((r) => r.status === "rejected");
        throw err instanceof StepExchangeFailed && failed ? failed.reason : err;
      }
      return sum([mine, ...(await Promise.all(pending))]);
    }
    const shards = this.threads;
    // Shard boundaries on batch multiples, so every thread sees full batches except the last.
    const batches = Math.ceil(n / batchSize);
    const bounds = Array.from({ length: shards + 1 }, (_, s) =>
      Math.min(n, Math.round((batches * s) / shards) * batchSize),
    );
    const pending = this.workers.map((worker, w) => {
      worker.postMessage({ start: bounds[w + 1], end: bounds[w + 2], batchSize, firstStep, lr: options.lr });
      return reply(worker) as Promise<EpochResult>;
    });
    const mine = runShard(this.local, this.order, bounds[0]!, bounds[1]!, batchSize, firstStep);
    return sum([mine, ...(await Promise.all(pending))]);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

function sum(results: EpochResult[]): EpochResult {
  return results.reduce((a, b) => ({ loss: a.loss + b.loss, samples: a.samples + b.samples }));
}

/**
 * Run batches [start, end) of the epoch's `order` (`start` a multiple of `batchSize`; the epoch's first batch
 * is step `firstStep`) through backward and an optimiser step each, releasing scratch memory after each.
 */
export function runShard(
  built: Trainable,
  order: Int32Array,
  start: number,
  end: number,
  batchSize: number,
  firstStep: number,
): EpochResult {
  let loss = 0;
  for (let s = start; s < end; s += batchSize) {
    const step = firstStep + s / batchSize;
    const batchLoss = built.backward(order.subarray(s, Math.min(end, s + batchSize)), 1, step);
    if (batchLoss !== null) {
      built.optimizer.step();
      loss += batchLoss;
    }
    endStep();
  }
  return { loss, samples: Math.max(0, end - start) };
}

/**
 * Thread `thread` of `threads`' part of a synchronous epoch over `order[0, n)`: its slice of every batch,
 * back-propagated with the slice's share of the batch, then the exchange's step (see StepExchange).
 */
export function runSlices(
  built: Trainable,
  order: Int32Array,
  n: number,
  batchSize: number,
  firstStep: number,
  thread: number,
  threads: number,
  exchange: StepExchange,
): EpochResult {
  let loss = 0;
  let samples = 0;
  for (let s = 0; s < n; s += batchSize) {
    const size = Math.min(batchSize, n - s);
    const from = s + Math.floor((size * thread) / threads);
    const to = s + Math.floor((size * (thread + 1)) / threads);
    const step = firstStep + s / batchSize;
    const sliceLoss = to > from ? built.backward(order.subarray(from, to), (to - from) / size, step) : null;
    if (sliceLoss !== null) loss += sliceLoss;
    samples += to - from;
    if (thread === 0) exchange.step(built.optimizer, threads - 1, sliceLoss !== null);
    else exchange.contribute(thread, built.optimizer, sliceLoss !== null);
    endStep();
  }
  return { loss, samples };
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
