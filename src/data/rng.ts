// A tiny seeded PRNG for the data layer (splits, samplers, synthetic data), so results are reproducible
// without depending on the engine's generator.

const TWO_POW_32 = 4294967296;

/** A seeded splitmix32 generator: fast, 32-bit state, good enough statistical quality for sampling. */
export class DataRng {
  // State lives in typed arrays: a plain number field holding values beyond V8's small-integer range is
  // boxed, which made every draw several times slower.
  private readonly state = new Int32Array(1);
  private readonly spare = new Float64Array(1);
  private hasSpare = false;

  constructor(seed: number) {
    // Mix the seed once so nearby seeds (0, 1, 2…) start far apart.
    this.state[0] = mix32(Math.trunc(seed) ^ 0x5bd1e995);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const state = (this.state[0]! + 0x9e3779b9) | 0;
    this.state[0] = state;
    return mix32(state);
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal draw (Box–Muller, the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare[0]!;
    }
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spare[0] = radius * Math.sin(angle);
    this.hasSpare = true;
    return radius * Math.cos(angle);
  }

  /** An exponential draw with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** A generator in the same state: it draws what this one would draw next. */
  clone(): DataRng {
    const copy = new DataRng(0);
    copy.state[0] = this.state[0]!;
    copy.spare[0] = this.spare[0]!;
    copy.hasSpare = this.hasSpare;
    return copy;
  }

  /** Shuffles `values` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { [index: number]: number; length: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = values[i]!;
      values[i] = values[j]!;
      values[j] = swap;
    }
    return values;
  }
}

/** The splitmix32 finaliser: a bijective avalanche of a 32-bit integer. */
function mix32(x: number): number {
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
