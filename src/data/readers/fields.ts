// Field splitting, number parsing and id interning straight from line bytes, avoiding a substring per cell.
import type { IdMap } from "../idmap.js";

const QUOTE = 0x22;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;

/** Splits a line into fields; the field views are overwritten by the next `split`. */
export class FieldSplitter {
  /** Field i is buf[starts[i], ends[i]) (quotes excluded). */
  starts = new Int32Array(16);
  ends = new Int32Array(16);
  /** 1 when field i was quoted and contains doubled quotes that `text` must unescape. */
  escaped = new Uint8Array(16);
  count = 0;
  private readonly delimiterBytes: Buffer;
  private readonly delimiterByte: number;

  /** @param quoted whether RFC 4180 double quotes may wrap fields (CSV) */
  constructor(
    readonly delimiter: string,
    readonly quoted: boolean,
  ) {
    this.delimiterBytes = Buffer.from(delimiter, "utf8");
    this.delimiterByte = this.delimiterBytes.length === 1 ? this.delimiterBytes[0]! : -1;
  }

  /** Splits buf[start, end) and returns the number of fields, or -1 when a quoted field is not closed properly. */
  split(buf: Buffer, start: number, end: number): number {
    this.count = 0;
    if (this.delimiterByte < 0) return this.splitMultiByte(buf, start, end);
    if (this.quoted) return this.splitQuoted(buf, start, end);
    const delimiter = this.delimiterByte;
    let fieldStart = start;
    for (let i = start; i < end; i++) {
      if (buf[i] === delimiter) {
        this.push(fieldStart, i, 0);
        fieldStart = i + 1;
      }
    }
    this.push(fieldStart, end, 0);
    return this.count;
  }

  /** Field i as a string. */
  text(buf: Buffer, i: number): string {
    const text = buf.toString("utf8", this.starts[i], this.ends[i]);
    return this.escaped[i] ? text.replaceAll('""', '"') : text;
  }

  private splitQuoted(buf: Buffer, start: number, end: number): number {
    const delimiter = this.delimiterByte;
    let fieldStart = start;
    for (let i = start; i <= end; i++) {
      if (i === fieldStart && i < end && buf[i] === QUOTE) {
        const close = this.closeQuote(buf, i + 1, end);
        if (close < 0 || (close + 1 < end && buf[close + 1] !== delimiter)) return -1;
        i = close + 1;
        fieldStart = i + 1;
        continue;
      }
      if (i === end || buf[i] === delimiter) {
        this.push(fieldStart, i, 0);
        fieldStart = i + 1;
      }
    }
    return this.count;
  }

  private splitMultiByte(buf: Buffer, start: number, end: number): number {
    const width = this.delimiterBytes.length;
    let fieldStart = start;
    for (;;) {
      const at = buf.indexOf(this.delimiterBytes, fieldStart);
      if (at < 0 || at + width > end) break;
      this.push(fieldStart, at, 0);
      fieldStart = at + width;
    }
    this.push(fieldStart, end, 0);
    return this.count;
  }

  /** Records the quoted field opening before `from`; returns the index of its closing quote, or -1. */
  private closeQuote(buf: Buffer, from: number, end: number): number {
    let escaped = 0;
    for (let i = from; i < end; i++) {
      if (buf[i] !== QUOTE) continue;
      if (i + 1 < end && buf[i + 1] === QUOTE) {
        escaped = 1;
        i++;
        continue;
      }
      this.push(from, i, escaped);
      return i;
    }
    return -1;
  }

  private push(start: number, end: number, escaped: number): void {
    if (this.count === this.starts.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const bigger = make(a.length * 2);
        bigger.set(a);
        return bigger;
      };
      this.starts = grow(this.starts, (n) => new Int32Array(n));
      this.ends = grow(this.ends, (n) => new Int32Array(n));
      this.escaped = grow(this.escaped, (n) => new Uint8Array(n));
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.escaped[this.count] = escaped;
    this.count++;
  }
}

/** Exact powers of ten for the fast decimal path (10^k is exactly representable up to k = 22). */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);
const PLAIN_NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The number in buf[start, end): NaN when it is not a plain decimal number, ±Infinity on overflow.
 * Short decimals are parsed from the bytes as mantissa / 10^k, which is correctly rounded because both are exact.
 */
export function parseNumber(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && (buf[i] === MINUS || buf[i] === PLUS)) negative = buf[i++] === MINUS;
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = -1;
  for (; i < end; i++) {
    const c = buf[i]!;
    const digit = c - ZERO;
    if (digit >= 0 && digit <= 9) {
      mantissa = mantissa * 10 + digit;
      digits++;
      if (fractionDigits >= 0) fractionDigits++;
    } else if (c === DOT && fractionDigits < 0) {
      fractionDigits = 0;
    } else {
      break;
    }
  }
  if (i === end && digits > 0 && digits <= 15) {
    const value = fractionDigits > 0 ? mantissa / POWERS_OF_TEN[fractionDigits]! : mantissa;
    return negative ? -value : value;
  }
  return parseNumberText(buf.toString("utf8", start, end));
}

/** The number in `text` under the same rules as `parseNumber` (no hex, no "Infinity", no empty string as 0). */
export function parseNumberText(text: string): number {
  return PLAIN_NUMBER.test(text) ? Number(text) : NaN;
}

/** Why `text` is not a usable number, phrased to follow the quoted value: "is empty", "is not finite", ... */
export function numberProblem(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return "is empty";
  if (/^[+-]?(nan|inf|infinity)$/i.test(trimmed) || PLAIN_NUMBER.test(trimmed)) return "is not finite";
  return "is not a number";
}

/** Numeric ids below this are looked up in a flat table (at most 16 MiB), which beats a Map on random access. */
const DIRECT_LIMIT = 1 << 22;

/** Adds ids to an IdMap straight from bytes; canonical decimal ids skip the string allocation once seen. */
export class TokenInterner {
  /** Dense index + 1 of small numeric ids (0 = not seen yet); grows by doubling up to DIRECT_LIMIT. */
  private direct = new Int32Array(1024);
  private readonly byNumber = new Map<number, number>();

  constructor(readonly ids: IdMap) {}

  /** The dense index of the id in buf[start, end), adding it if new. */
  intern(buf: Buffer, start: number, end: number): number {
    const length = end - start;
    // A leading zero would make "007" and "7" collide, so only canonical decimals take the numeric path.
    if (length > 0 && length <= 15 && (buf[start] !== ZERO || length === 1)) {
      let value = 0;
      let i = start;
      for (; i < end; i++) {
        const digit = buf[i]! - ZERO;
        if (digit < 0 || digit > 9) break;
        value = value * 10 + digit;
      }
      if (i === end) return value < DIRECT_LIMIT ? this.internSmall(value) : this.internLarge(value);
    }
    return this.ids.add(buf.toString("utf8", start, end));
  }

  private internSmall(value: number): number {
    if (value >= this.direct.length) {
      let length = this.direct.length * 2;
      while (length <= value) length *= 2;
      const grown = new Int32Array(length);
      grown.set(this.direct);
      this.direct = grown;
    }
    const known = this.direct[value]!;
    if (known > 0) return known - 1;
    const index = this.ids.add(String(value));
    this.direct[value] = index + 1;
    return index;
  }

  private internLarge(value: number): number {
    let index = this.byNumber.get(value);
    if (index === undefined) {
      index = this.ids.add(String(value));
      this.byNumber.set(value, index);
    }
    return index;
  }

  /** The dense index of `id` (already a string, e.g. from JSON or an unescaped CSV field), adding it if new. */
  internText(id: string): number {
    return this.ids.add(id);
  }
}

const DELIMITER_NAMES: Record<string, string> = {
  "\t": "tab",
  ",": "comma",
  ";": "semicolon",
  "|": "pipe",
  "::": '"::"',
  " ": "space",
};

/** A human name for a delimiter ("tab", "comma", ...). */
export function delimiterName(delimiter: string): string {
  return DELIMITER_NAMES[delimiter] ?? JSON.stringify(delimiter);
}

/** The delimiter other than `expected` that splits `line` into the most fields, if any does. */
export function guessDelimiter(line: string, expected: string): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const candidate of Object.keys(DELIMITER_NAMES)) {
    if (candidate === expected) continue;
    const count = line.split(candidate).length - 1;
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}
