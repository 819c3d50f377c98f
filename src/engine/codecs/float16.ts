/**
 * IEEE 754 binary16 conversion on the host, shared by f16 parameter files (./serialize.ts) and fp16
 * storage in the compression tools. Rounding is to nearest with ties to even, as the hardware does.
 */
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of a float, rounded to nearest even (overflow → ±Infinity, NaN stays NaN). */
export function float16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const rawExponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (rawExponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exponent = rawExponent - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    // Subnormal half: the implicit leading one joins the mantissa, shifted into units of 2^-24.
    if (exponent < -10) return sign;
    return sign | roundShift(mantissa | 0x800000, 14 - exponent);
  }
  // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
  return sign | roundShift((exponent << 23) | mantissa, 13);
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const quotient = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && quotient & 1) ? quotient + 1 : quotient;
}

/** The float value of IEEE 754 binary16 bits. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Half-precision bits of every value (see float16Bits). */
export function toFloat16(values: Float32Array): Uint16Array {
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) halves[i] = float16Bits(values[i]!);
  return halves;
}

/** Float values of half-precision bits (exact: every binary16 value is a binary32 value). */
export function fromFloat16(halves: Uint16Array): Float32Array {
  const values = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) values[i] = float16Value(halves[i]!);
  return values;
}
