/**
 * Seeded pseudo-random numbers: xoshiro128** (fast, 128-bit state, passes BigCrush) seeded through
 * splitmix32, plus the weight initialisers that plug into `Tensor.parameter(shape, init, name)`.
 */

/** Anything indexable and writable: plain arrays and every typed array. */
export interface MutableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

const TWO_POW_32 = 4294967296;

/** One step of splitmix32: a well-mixed 32-bit output from a counter state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seeded, reproducible random number generator (xoshiro128**). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The second value of the last Box–Muller pair, handed out by the next `normal()` call. */
  private spare: number | null = null;

  /** Seed with any integer (or the four 32-bit state words, used by `fork()`). */
  constructor(seed: number | readonly [number, number, number, number] = 0) {
    if (typeof seed === "number") {
      const sm = { s: seed >>> 0 };
      seed = [splitmix32(sm), splitmix32(sm), splitmix32(sm), splitmix32(sm)];
    }
    [this.a, this.b, this.c, this.d] = seed.map((v) => v >>> 0) as [number, number, number, number];
    // The all-zero state is the one fixed point of xoshiro.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** A uniform integer in [0, n), without modulo bias; n must be an integer in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** A standard normal sample (Box–Muller; the second value of each pair is cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Shuffle in place (Fisher–Yates) and return the same array. */
  shuffle<A extends MutableArrayLike<unknown>>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A new generator whose stream is independent of this one's (this one advances by four draws). */
  fork(): Rng {
    // Re-mix the drawn words so the child's state is not a shifted copy of the parent's stream.
    const sm = { s: this.nextU32() ^ this.nextU32() };
    const words: [number, number, number, number] = [
      this.nextU32() ^ splitmix32(sm),
      this.nextU32() ^ splitmix32(sm),
      splitmix32(sm),
      splitmix32(sm),
    ];
    return new Rng(words);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Weight initialiser: fills a parameter's data in place. */
export type Init = (data: Float32Array) => void;

/** N(0, std²) entries. */
export function normalInit(rng: Rng, std: number): Init {
  return (data) => {
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  };
}

/** U(-bound, bound) entries. */
export function uniformInit(rng: Rng, bound: number): Init {
  return (data) => {
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * bound;
  };
}

/** Glorot/Xavier uniform: U(±sqrt(6 / (fanIn + fanOut))). */
export function xavierUniform(rng: Rng, fanIn: number, fanOut: number): Init {
  return uniformInit(rng, Math.sqrt(6 / (fanIn + fanOut)));
}

/** Glorot/Xavier normal: N(0, 2 / (fanIn + fanOut)), as torch.nn.init.xavier_normal_. */
export function xavierNormal(rng: Rng, fanIn: number, fanOut: number): Init {
  return normalInit(rng, Math.sqrt(2 / (fanIn + fanOut)));
}

/**
 * He/Kaiming uniform as torch.nn.init.kaiming_uniform_: U(±gain·sqrt(3 / fanIn)) with
 * gain = sqrt(2 / (1 + a²)). a = 0 suits ReLU; a = √5 is PyTorch's Linear default (bound 1/√fanIn).
 */
export function kaimingUniform(rng: Rng, fanIn: number, a = 0): Init {
  const gain = Math.sqrt(2 / (1 + a * a));
  return uniformInit(rng, gain * Math.sqrt(3 / fanIn));
}
