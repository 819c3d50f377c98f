/**
 * Learning-rate schedules. A schedule captures the optimiser's lr when it is built (the base lr) and sets
 * `optimizer.lr` on every `step()` (a warm-up also when built); call step() once per epoch or per batch,
 * as the training loop decides. Each lr is computed in closed form from the number of step() calls, so
 * long runs do not accumulate rounding.
 */

/** Anything whose learning rate a schedule drives. */
export interface HasLearningRate {
  lr: number;
}

export interface Schedule {
  /** The learning rate the schedule has set (the one the next optimiser step uses). */
  readonly lr: number;
  /** Advance one epoch or batch and update the optimiser's lr. */
  step(): void;
}

abstract class ClosedFormSchedule implements Schedule {
  readonly baseLr: number;
  /** step() calls so far. */
  steps = 0;

  constructor(protected readonly optimizer: HasLearningRate) {
    this.baseLr = optimizer.lr;
  }

  get lr(): number {
    return this.lrAt(this.steps);
  }

  step(): void {
    this.steps++;
    this.optimizer.lr = this.lr;
  }

  /** The learning rate after `steps` step() calls. */
  protected abstract lrAt(steps: number): number;
}

/** base · gamma^floor(steps / stepSize): decay by gamma every stepSize steps (torch StepLR). */
export class StepLR extends ClosedFormSchedule {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: HasLearningRate, options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!(Number.isInteger(options.stepSize) && options.stepSize > 0)) {
      throw new RangeError(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    }
    this.stepSize = options.stepSize;
    this.gamma = checkGamma(options.gamma ?? 0.1);
  }

  protected override lrAt(steps: number): number {
    return this.baseLr * this.gamma ** Math.floor(steps / this.stepSize);
  }
}

/** base · gamma^steps (torch ExponentialLR). */
export class ExponentialLR extends ClosedFormSchedule {
  readonly gamma: number;

  constructor(optimizer: HasLearningRate, options: { gamma: number }) {
    super(optimizer);
    this.gamma = checkGamma(options.gamma);
  }

  protected override lrAt(steps: number): number {
    return this.baseLr * this.gamma ** steps;
  }
}

/**
 * Linear warm-up: the lr is base · steps / warmupSteps, from 0 when built up to the base lr after
 * warmupSteps step() calls; from then on each step() is handed to `then` (built on the same optimiser
 * before this warm-up, so it starts from the base lr), or the lr stays at base.
 */
export class LinearWarmup implements Schedule {
  readonly baseLr: number;
  readonly warmupSteps: number;
  readonly then: Schedule | undefined;
  steps = 0;

  constructor(
    private readonly optimizer: HasLearningRate,
    options: { warmupSteps: number; then?: Schedule },
  ) {
    if (!(Number.isInteger(options.warmupSteps) && options.warmupSteps > 0)) {
      throw new RangeError(`LinearWarmup: warmupSteps must be a positive integer, got ${options.warmupSteps}`);
    }
    this.baseLr = optimizer.lr;
    this.warmupSteps = options.warmupSteps;
    this.then = options.then;
    optimizer.lr = this.lr;
  }

  get lr(): number {
    if (this.steps < this.warmupSteps) return (this.baseLr * this.steps) / this.warmupSteps;
    return this.then ? this.then.lr : this.baseLr;
  }

  step(): void {
    this.steps++;
    if (this.steps > this.warmupSteps && this.then) this.then.step();
    this.optimizer.lr = this.lr;
  }
}

function checkGamma(gamma: number): number {
  if (!(gamma > 0 && Number.isFinite(gamma))) throw new RangeError(`schedule: gamma must be positive, got ${gamma}`);
  return gamma;
}

/**
 * A schedule as plain data (for configs): the options of StepLR, ExponentialLR or LinearWarmup, whose
 * `then` is the schedule that follows the warm-up.
 */
export type ScheduleSpec =
  | { kind: "step"; stepSize: number; gamma?: number }
  | { kind: "exponential"; gamma: number }
  | { kind: "warmup"; warmupSteps: number; then?: Exclude<ScheduleSpec, { kind: "warmup" }> };

/** Build the schedule `spec` describes over `optimizer` (its current lr is the base lr). */
export function createSchedule(spec: ScheduleSpec, optimizer: HasLearningRate): Schedule {
  switch (spec.kind) {
    case "step":
      return new StepLR(optimizer, spec);
    case "exponential":
      return new ExponentialLR(optimizer, spec);
    case "warmup": {
      // Built first, so that it captures the base lr before the warm-up lowers it.
      const then = spec.then && createSchedule(spec.then, optimizer);
      return new LinearWarmup(optimizer, { warmupSteps: spec.warmupSteps, then });
    }
    default:
      throw new Error(`unknown schedule kind "${(spec as { kind: string }).kind}" (known: step, exponential, warmup)`);
  }
}
