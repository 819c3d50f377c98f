import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Tensor } from "../../src/engine/tensor.js";
import {
  decodeParameters,
  encodeParameters,
  float16Bits,
  float16Value,
  loadInto,
  loadParameters,
  ParameterFileError,
  roundTrip,
  saveParameters,
  storedBytes,
  type HostTensor,
} from "../../src/engine/serialize.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-serialize-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic awkward values: negatives, tiny and huge magnitudes, signed zero. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 12.9898 + seed) * 10 ** ((i % 9) - 4);
  if (n > 1) out[1] = -0;
  return out;
}

function host(shape: number[], seed: number): HostTensor {
  return {
    shape,
    data: values(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  };
}

const sample = (): [string, HostTensor][] => [
  ["user.embedding", host([7, 5], 1)],
  ["bias", host([], 2)],
  ["mlp.w", host([3, 1, 13], 3)],
  ["empty", host([0, 4], 4)],
];

/** Same bits, not merely equal numbers (distinguishes -0 from 0). */
function assertBitExact(actual: Float32Array, expected: Float32Array): void {
  assert.deepEqual(
    new Uint32Array(actual.buffer, actual.byteOffset, actual.length),
    new Uint32Array(expected.buffer, expected.byteOffset, expected.length),
  );
}

/** A file with an arbitrary header and data section and a correct checksum. */
function rawFile(header: string | Buffer, data: Uint8Array = new Uint8Array(), version = 2): Buffer {
  const headerBytes = typeof header === "string" ? Buffer.from(header, "utf8") : header;
  const dataStart = Math.ceil((16 + headerBytes.length) / 64) * 64;
  const file = Buffer.alloc(dataStart + data.length + 4);
  file.write("DRECPARM", 0, "ascii");
  file.writeUInt32LE(version, 8);
  file.writeUInt32LE(headerBytes.length, 12);
  headerBytes.copy(file, 16);
  file.set(data, dataStart);
  file.writeUInt32LE(crc32(file.subarray(0, file.length - 4)), file.length - 4);
  return file;
}

const entry = (name: string, shape: number[], offset = 0, byteLength = shape.reduce((a, b) => a * b, 1) * 4) => ({
  name,
  dtype: "f32",
  shape,
  offset,
  byteLength,
});

describe("parameter files: encoding", () => {
  test("round-trips names, order, shapes and bit-exact values with meta", () => {
    const tensors = sample();
    const meta = { model: "two-tower", epoch: 3, nested: { lr: 0.01, tags: ["a", "ü"] } };
    const decoded = decodeParameters(encodeParameters(tensors, meta));
    assert.equal(decoded.version, 2);
    assert.deepEqual(decoded.meta, meta);
    assert.deepEqual(
      [...decoded.tensors.keys()],
      tensors.map(([name]) => name),
    );
    for (const [name, t] of tensors) {
      const got = decoded.tensors.get(name)!;
      assert.deepEqual(got.shape, t.shape);
      assert.equal(got.dtype, "f32");
      assertBitExact(got.data, t.data);
    }
  });

  test("accepts an object of engine tensors and keeps NaN and infinities", () => {
    const weight = Tensor.from([1.5, NaN, Infinity, -Infinity, 3e-42], [5], { persistent: true });
    const decoded = decodeParameters(encodeParameters({ weight }));
    assertBitExact(decoded.tensors.get("weight")!.data, weight.data);
    assert.deepEqual(decoded.meta, {});
    weight.dispose();
  });

  test("lays out the prefix, aligned blocks and trailing CRC as documented", () => {
    const file = encodeParameters(sample(), { k: 1 });
    assert.equal(file.subarray(0, 8).toString("ascii"), "DRECPARM");
    assert.equal(file.readUInt32LE(8), 2);
    const headerLength = file.readUInt32LE(12);
    const header = JSON.parse(file.subarray(16, 16 + headerLength).toString("utf8"));
    const dataStart = Math.ceil((16 + headerLength) / 64) * 64;
    for (const e of header.tensors) {
      assert.equal(e.offset % 64, 0);
      const block = file.subarray(dataStart + e.offset, dataStart + e.offset + e.byteLength);
      assert.equal(block.length, e.byteLength);
    }
    assert.equal(file.length % 64, 4);
    assert.equal(file.readUInt32LE(file.length - 4), crc32(file.subarray(0, file.length - 4)));
  });

  test("stores f16 at half the size, decoding to the nearest half-precision values", () => {
    const t = host([33], 5);
    const f32 = encodeParameters([["t", t]]);
    const f16 = encodeParameters([["t", t]], {}, { dtype: "f16" });
    const decoded = decodeParameters(f16).tensors.get("t")!;
    assert.equal(decoded.dtype, "f16");
    assert.ok(f16.length < f32.length);
    for (let i = 0; i < t.data.length; i++) {
      assert.equal(decoded.data[i], float16Value(float16Bits(t.data[i]!)));
      if (Math.abs(t.data[i]!) > 1e-4) assert.ok(Math.abs(decoded.data[i]! / t.data[i]! - 1) <= 2 ** -11);
    }
  });

  test("refuses bad input: duplicate names, values not filling the shape, unstorable meta", () => {
    const t = host([2], 1);
    assert.throws(
      () =>
        encodeParameters([
          ["a", t],
          ["a", t],
        ]),
      /duplicate tensor name "a"/,
    );
    assert.throws(() => encodeParameters([["", t]]), /non-empty name/);
    assert.throws(() => encodeParameters({ a: { shape: [3], data: new Float32Array(2) } }), /2 values for shape \[3\]/);
    assert.throws(() => encodeParameters({ a: t }, { n: 1n }), /meta is not JSON-serialisable/);
  });
});

describe("parameter files: compressed encodings", () => {
  const rows = 40;
  const cols = 16;
  const table = (seed: number) => {
    const data = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.7 + seed) * (1 + (i % cols)));
    return { shape: [rows, cols], data };
  };

  test("i8 stores a quarter plus one float16 scale per 32 values, each value within half its scale", () => {
    const t = table(1);
    const file = decodeParameters(encodeParameters([["t", t]], {}, { dtype: "i8" }));
    const decoded = file.tensors.get("t")!;
    assert.equal(decoded.dtype, "i8");
    // 16-wide rows: two rows share a scale, so 20 scales of 2 bytes.
    assert.equal(decoded.bytes, rows * cols + 2 * (rows / 2));
    assert.ok(decoded.bytes / (rows * cols * 4) <= 0.27);
    for (let g = 0; g < rows / 2; g++) {
      const group = t.data.subarray(g * 2 * cols, (g + 1) * 2 * cols);
      const max = Math.max(...Array.from(group, Math.abs));
      for (let k = g * 2 * cols; k < (g + 1) * 2 * cols; k++) {
        // The stored scale is the float16 value at or just above max / 127: at most 2^-10 relatively above.
        assert.ok(Math.abs(decoded.data[k]! - t.data[k]!) <= (max / 127) * (1 + 2 ** -10) * 0.5 + 1e-7, `value ${k}`);
      }
    }
  });

  test("the float16 scales keep the codes in range and reproduce exactly on a second round trip", () => {
    const t = table(2);
    const once = roundTrip({ ...t, dtype: "i8" });
    assertBitExact(roundTrip({ shape: t.shape, data: once, dtype: "i8" }), once);
  });

  test("sparse tensors store a bitmap and their non-zeros, and decode to the same zeros", () => {
    const t = table(3);
    t.data.forEach((_, i) => {
      if (i % 3 !== 0) t.data[i] = 0;
    });
    const nonZeros = t.data.filter((v) => v !== 0).length;
    for (const dtype of ["f32", "f16", "i8"] as const) {
      const decoded = decodeParameters(encodeParameters([["t", { ...t, dtype, sparse: true }]])).tensors.get("t")!;
      assert.equal(decoded.layout, "sparse");
      assert.equal(decoded.stored, nonZeros);
      const valueBytes = dtype === "i8" ? nonZeros + 2 * (rows / 2) : nonZeros * (dtype === "f32" ? 4 : 2);
      assert.equal(decoded.bytes, (rows * cols) / 8 + valueBytes);
      decoded.data.forEach((v, i) => {
        if (t.data[i] === 0) assert.equal(v, 0, `position ${i}`);
        else assert.ok(Math.abs(v - t.data[i]!) <= 0.05 * Math.abs(t.data[i]!) + 0.1, `${dtype} position ${i}`);
      });
      if (dtype === "f32") assertBitExact(decoded.data, t.data);
      // Sparse i8 decodes to exactly what dense i8 decodes to at the kept positions.
      if (dtype === "i8") {
        const dense = roundTrip({ ...t, dtype: "i8" });
        decoded.data.forEach((v, i) => assert.equal(v, dense[i]));
      }
    }
  });

  test("low-rank tensors store their factors and decode to the factors' product", () => {
    const rank = 3;
    const left = values(rows * rank, 4);
    const right = values(rank * cols, 5);
    const product = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let k = 0; k < rank; k++) sum += left[r * rank + k]! * right[k * cols + j]!;
        product[r * cols + j] = sum;
      }
    }
    const stored = { shape: [rows, cols], data: product, factors: { left, right, rank } };
    const decoded = decodeParameters(encodeParameters([["t", stored]])).tensors.get("t")!;
    assert.equal(decoded.layout, "lowrank");
    assert.equal(decoded.rank, rank);
    assert.equal(decoded.bytes, 4 * rank * (rows + cols));
    assert.equal(storedBytes(stored.shape, "f32", { rank }), decoded.bytes);
    assertBitExact(decoded.data, product);
    assert.throws(
      () => encodeParameters([["t", { ...stored, factors: { left, right, rank: 2 } }]]),
      /tensor "t": factors of 120 and 48 values do not fit \[40, 2\]·\[2, 16\]/,
    );
  });

  test("version 1 files still load", () => {
    const file = encodeParameters(sample());
    file.writeUInt32LE(1, 8);
    file.writeUInt32LE(crc32(file.subarray(0, file.length - 4)), file.length - 4);
    assert.equal(decodeParameters(file).version, 1);
  });
});

describe("float16 conversion", () => {
  test("every finite half survives a round trip", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && bits & 0x3ff) continue; // NaN payloads are not kept
      assert.equal(float16Bits(float16Value(bits)), bits);
    }
  });

  test("ties round to even, overflow to infinity, underflow to signed zero", () => {
    for (let bits = 0; bits < 0x7bff; bits++) {
      const midpoint = (float16Value(bits) + float16Value(bits + 1)) / 2;
      assert.equal(float16Bits(midpoint), bits & 1 ? bits + 1 : bits);
    }
    assert.equal(float16Bits(65519), 0x7bff);
    assert.equal(float16Bits(65520), 0x7c00);
    assert.equal(float16Bits(-1e9), 0xfc00);
    assert.equal(float16Bits(-(2 ** -26)), 0x8000);
    assert.ok(Number.isNaN(float16Value(float16Bits(NaN))));
  });
});

describe("parameter files: saving and loading", () => {
  test("saves atomically, leaving no temporary file, and loads back", () => {
    const path = join(dir, "model.params");
    saveParameters(path, sample(), { step: 10 });
    saveParameters(path, sample(), { step: 20 });
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith("model.params")),
      ["model.params"],
    );
    const loaded = loadParameters(path);
    assert.deepEqual(loaded.meta, { step: 20 });
    assertBitExact(loaded.tensors.get("mlp.w")!.data, sample()[2]![1].data);
  });

  test("a failed save removes its temporary file", () => {
    // Renaming a file over a non-empty directory fails after the temporary file was written.
    const target = join(dir, "occupied");
    mkdirSync(join(target, "inside"), { recursive: true });
    assert.throws(() => saveParameters(target, sample()));
    assert.equal(existsSync(`${target}.tmp`), false);
  });

  test("loadInto copies into a model's tensors and returns the meta", () => {
    const path = join(dir, "into.params");
    const source = { "user.embedding": host([7, 5], 1), bias: host([], 2) };
    saveParameters(path, source, { dim: 5 });
    const model: [string, Tensor][] = [
      ["bias", Tensor.parameter([], (d) => d.fill(0), "bias")],
      ["user.embedding", Tensor.parameter([7, 5], (d) => d.fill(0), "user.embedding")],
    ];
    assert.deepEqual(loadInto(path, model), { dim: 5 });
    assertBitExact(model[0]![1].data, source.bias.data);
    assertBitExact(model[1]![1].data, source["user.embedding"].data);
    for (const [, t] of model) t.dispose();
  });

  test("loadInto names every missing, unexpected and mis-shaped parameter and copies nothing", () => {
    const path = join(dir, "mismatch.params");
    saveParameters(path, { a: host([2, 3], 1), b: host([4], 2), c: host([1], 3) });
    const a = Tensor.parameter([3, 2], (d) => d.fill(7), "a");
    const c = Tensor.parameter([1], (d) => d.fill(7), "c");
    const d = Tensor.parameter([1], (d) => d.fill(7), "d");
    assert.throws(
      () => loadInto(path, { a, c, d }),
      (err: Error) => {
        assert.ok(err instanceof ParameterFileError);
        assert.match(err.message, /^.*mismatch\.params: /);
        assert.match(err.message, /shape mismatch for a: file \[2, 3\] vs model \[3, 2\]/);
        assert.match(err.message, /missing parameter d/);
        assert.match(err.message, /unexpected parameter b/);
        return true;
      },
    );
    assert.deepEqual(Array.from(c.data), [7]);
    for (const t of [a, c, d]) t.dispose();
  });
});

describe("parameter files: refusals", () => {
  const good = encodeParameters(sample(), { note: "x" });
  const refuses = (buf: Buffer, pattern: RegExp) =>
    assert.throws(
      () => decodeParameters(buf, "some/file.params"),
      (err: Error) =>
        err instanceof ParameterFileError && /^some\/file\.params: /.test(err.message) && pattern.test(err.message),
    );

  test("a flipped data byte fails the checksum", () => {
    for (const at of [good.length - 100, good.length - 5, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x10;
      refuses(bad, /corrupted: checksum mismatch/);
    }
  });

  test("a flipped header byte is reported as corruption", () => {
    const bad = Buffer.from(good);
    bad[20]! ^= 0x01;
    refuses(bad, /corrupted: checksum mismatch/);
  });

  test("a file cut anywhere is refused as truncated", () => {
    const headerEnd = 16 + good.readUInt32LE(12);
    for (const length of [
      0,
      5,
      8,
      15,
      16,
      40,
      headerEnd,
      headerEnd + 30,
      good.length - 64,
      good.length - 4,
      good.length - 1,
    ]) {
      refuses(good.subarray(0, length), /truncated/);
    }
  });

  test("a file without the padding its header implies is truncated, even with a valid checksum", () => {
    const unpadded = rawFile(JSON.stringify({ tensors: [], meta: {} }));
    const headerEnd = 16 + unpadded.readUInt32LE(12);
    const cut = Buffer.concat([unpadded.subarray(0, headerEnd), Buffer.alloc(4)]);
    cut.writeUInt32LE(crc32(cut.subarray(0, headerEnd)), headerEnd);
    refuses(cut, /truncated/);
  });

  test("appended bytes are refused", () => {
    refuses(Buffer.concat([good, Buffer.alloc(3)]), /unexpected trailing data/);
  });

  test("wrong magic and unsupported versions are refused", () => {
    const bad = Buffer.from(good);
    bad.write("PK", 0, "ascii");
    refuses(bad, /not a distillrec parameter file/);
    refuses(Buffer.from("hello"), /not a distillrec parameter file/);
    refuses(
      rawFile(JSON.stringify({ tensors: [], meta: {} }), undefined, 99),
      /unsupported format version 99 \(this build reads versions 1 to 2\)/,
    );
  });

  test("malformed headers are refused", () => {
    refuses(rawFile("{not json"), /malformed header JSON/);
    // Invalid UTF-8 inside a JSON string: a lenient decoder would accept it as U+FFFD.
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"tensors":[],"meta":{"a":"'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]);
    refuses(rawFile(invalidUtf8), /malformed header JSON/);
    refuses(rawFile("[]"), /malformed header: not a JSON object/);
    refuses(rawFile(JSON.stringify({ meta: {} })), /no tensors array/);
    refuses(rawFile(JSON.stringify({ tensors: [], meta: [] })), /meta is not a JSON object/);
    refuses(rawFile(JSON.stringify({ tensors: [{ ...entry("a", [1]), shape: [1.5] }], meta: {} })), /invalid shape/);
  });

  test("header and data that disagree are refused", () => {
    const header = (...tensors: object[]) => JSON.stringify({ tensors, meta: {} });
    const data = new Uint8Array(128);
    refuses(
      rawFile(header(entry("a", [2, 3], 0, 20)), data),
      /shape \[2, 3\] of f32 needs 24 bytes, but byteLength is 20/,
    );
    refuses(rawFile(header(entry("a", [2]), entry("a", [2], 64)), data), /duplicate tensor name "a"/);
    refuses(rawFile(header(entry("a", [4]), entry("b", [4], 8)), data), /not 64-byte aligned/);
    refuses(rawFile(header(entry("a", [20]), entry("b", [4], 64)), data), /blocks "a" and "b" overlap/);
    refuses(rawFile(header(entry("a", [4], 128)), data), /tensor block out of bounds: "a"/);
    refuses(
      rawFile(header({ ...entry("a", [4, 8]), dtype: "i8", byteLength: 32 }), data),
      /of i8 needs 34 bytes, but byteLength is 32/,
    );
    refuses(rawFile(header({ ...entry("a", [4]), layout: "blocked" }), data), /unknown layout "blocked"/);
    refuses(rawFile(header({ ...entry("a", [4]), layout: "sparse", nonZeros: 5 }), data), /invalid nonZeros 5/);
    refuses(rawFile(header({ ...entry("a", [4, 4]), layout: "lowrank", rank: 5 }), data), /invalid rank 5/);
    // One bitmap byte marking 3 values, but the header promises 2 (and a block sized for 2).
    const sparse = new Uint8Array(64);
    sparse[0] = 0b111;
    refuses(
      rawFile(header({ ...entry("a", [8], 0, 1 + 8), layout: "sparse", nonZeros: 2 }), sparse),
      /bitmap marks 3 values, the header says 2/,
    );
    refuses(rawFile(header({ ...entry("a", [4]), dtype: "q4" }), data), /unknown dtype "q4"/);
  });

  test("loadParameters names the file in its errors", () => {
    const path = join(dir, "broken.params");
    writeFileSync(path, good.subarray(0, good.length - 10));
    assert.throws(() => loadParameters(path), { message: new RegExp(`^${path.replace(/[.\\]/g, "\\$&")}: truncated`) });
    assert.equal(readFileSync(path).length, good.length - 10);
  });
});
