// Streaming line splitting on raw bytes: no per-file string, lines are (buffer, start, end) views.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

/** Default read size: large chunks keep the per-chunk overhead negligible. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Called once per line with the line's bytes buf[start, end) (no line terminator) and its 1-based number. */
export type LineHandler = (buf: Buffer, start: number, end: number, lineNumber: number) => void;

/** The number of bytes of a UTF-8 byte-order mark at buf[start], 0 when there is none. */
function bomLength(buf: Buffer, start: number, end: number): number {
  return end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf ? 3 : 0;
}

/**
 * Streams `path` and calls `onLine` for every line, handling LF and CRLF endings, a leading UTF-8 BOM, lines split
 * across chunks and a last line without a newline. Errors thrown by `onLine` stop the read and propagate.
 */
export async function forEachLine(path: string, onLine: LineHandler, chunkSize = DEFAULT_CHUNK_SIZE): Promise<void> {
  let lineNumber = 0;
  // Pieces of a line that started in an earlier chunk; joined once its end arrives.
  let pending: Buffer[] = [];
  const emit = (buf: Buffer, start: number, end: number): void => {
    lineNumber++;
    if (lineNumber === 1) start += bomLength(buf, start, end);
    if (end > start && buf[end - 1] === CARRIAGE_RETURN) end--;
    onLine(buf, start, end, lineNumber);
  };
  for await (const chunk of createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, 0);
    if (pending.length > 0) {
      if (newline < 0) {
        pending.push(chunk);
        continue;
      }
      pending.push(chunk.subarray(0, newline));
      const line = Buffer.concat(pending);
      pending = [];
      emit(line, 0, line.length);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    while (newline >= 0) {
      emit(chunk, start, newline);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    const line = Buffer.concat(pending);
    emit(line, 0, line.length);
  }
}

/** The start of a file: its first line and a line-count estimate for pre-sizing column buffers. */
export interface FileHead {
  /** BOM and CR stripped; undefined for an empty file. */
  firstLine: string | undefined;
  /** File size divided by the mean line length of the first `maxBytes`. */
  estimatedLines: number;
}

/** Reads the first `maxBytes` of `path` (the first line is cut there if longer). */
export async function readHead(path: string, maxBytes = 1 << 16): Promise<FileHead> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const buf = Buffer.alloc(Math.min(maxBytes, size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    if (bytesRead === 0) return { firstLine: undefined, estimatedLines: 0 };
    let end = buf.indexOf(NEWLINE);
    if (end < 0 || end > bytesRead) end = bytesRead;
    const start = bomLength(buf, 0, end);
    let lines = 0;
    for (let at = buf.indexOf(NEWLINE); at >= 0 && at < bytesRead; at = buf.indexOf(NEWLINE, at + 1)) lines++;
    const estimatedLines = Math.ceil((size / bytesRead) * Math.max(lines, 1));
    if (end > start && buf[end - 1] === CARRIAGE_RETURN) end--;
    return { firstLine: buf.toString("utf8", start, end), estimatedLines };
  } finally {
    await handle.close();
  }
}
