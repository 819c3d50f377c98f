import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeContainer, encodeContainer, HeaderProblem, type BlockRef } from "../../src/engine/container.js";

class ToyError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/** A minimal format on the container: a header `{ blocks: [{ name, offset, byteLength }] }`. */
const format = {
  magic: "DRECTEST",
  version: 3,
  what: "test file",
  noun: "chunk",
  error: ToyError,
  source: "toy.bin",
  readHeader: (json: Record<string, unknown>) => {
    if (!Array.isArray(json.blocks)) throw new HeaderProblem("no blocks list");
    return { header: json, blocks: json.blocks as BlockRef[] };
  },
};

const encode = (blocks: Uint8Array[], version = format.version, header?: string): Buffer =>
  encodeContainer({
    magic: format.magic,
    version,
    blocks,
    header: (offsets) =>
      header ??
      JSON.stringify({ blocks: blocks.map((b, i) => ({ name: `b${i}`, offset: offsets[i], byteLength: b.length })) }),
  });

const refuses = (buf: Buffer, pattern: RegExp) =>
  assert.throws(
    () => decodeContainer(buf, format),
    (err: Error) => err instanceof ToyError && err.message.startsWith("toy.bin: ") && pattern.test(err.message),
  );

const good = encode([Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(70).fill(9)]);

describe("container", () => {
  test("round-trips blocks at 64-byte aligned offsets", () => {
    assert.equal(good.subarray(0, 8).toString("ascii"), "DRECTEST");
    assert.equal(good.length % 64, 4);
    const { version, header, blocks } = decodeContainer(good, format);
    assert.equal(version, 3);
    assert.deepEqual(
      (header.blocks as BlockRef[]).map((b) => b.offset),
      [0, 64, 64],
    );
    assert.deepEqual(
      blocks.map((b) => [...b]),
      [[1, 2, 3], [], Array(70).fill(9)],
    );
  });

  test("refuses each kind of damage with the format's error", () => {
    refuses(Buffer.alloc(0), /truncated: the file is empty/);
    refuses(Buffer.from("DRECPARM"), /not a distillrec test file \(magic is "DRECPARM"\)/);
    refuses(good.subarray(0, 18), /truncated: 18 bytes/);
    refuses(encode([], 4), /unsupported format version 4 \(this build reads version 3\)/);
    refuses(good.subarray(0, 40), /truncated: the header needs/);
    refuses(good.subarray(0, good.length - 64), /truncated: the header describes/);
    refuses(Buffer.concat([good, Buffer.alloc(1)]), /unexpected trailing data/);
    const flipped = Buffer.from(good);
    flipped[good.length - 10]! ^= 1;
    refuses(flipped, /corrupted: checksum mismatch/);
  });

  test("reports header problems, unless the checksum says the header is damaged", () => {
    const header = (...blocks: object[]) => JSON.stringify({ blocks });
    const data = [new Uint8Array(64)];
    refuses(encode(data, 3, "{"), /malformed header JSON/);
    refuses(encode(data, 3, "[]"), /malformed header: not a JSON object/);
    refuses(encode(data, 3, "{}"), /no blocks list/);
    refuses(encode(data, 3, header({ name: "a", offset: -1, byteLength: 4 })), /chunk "a" has an invalid offset/);
    refuses(encode(data, 3, header({ name: "a", offset: 8, byteLength: 4 })), /chunk "a" block offset 8 is not 64/);
    refuses(
      encode(data, 3, header({ name: "a", offset: 0, byteLength: 40 }, { name: "b", offset: 0, byteLength: 4 })),
      /chunk blocks "a" and "b" overlap/,
    );
    refuses(encode(data, 3, header({ name: "a", offset: 64, byteLength: 4 })), /chunk block out of bounds: "a"/);
    const damaged = encode(data, 3, "[]");
    damaged[damaged.length - 1]! ^= 1;
    refuses(damaged, /corrupted: checksum mismatch .*; the header is also invalid: malformed header/);
  });
});
