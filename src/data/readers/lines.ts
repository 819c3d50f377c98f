// Streaming line splitting on raw bytes: no per-file string, lines are (buffer, start, end) views.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { DataError } from "../errors.js";

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
 * Streams `path` and calls `onLine` for every line, handling LF, CRLF and lone CR (old Mac) endings, a leading
 * UTF-8 BOM, lines split across chunks (a CRLF too) and a last line without a newline. Errors thrown by `onLine`
 * stop the read and propagate; a file that cannot be read is a DataError naming it.
 */
export async function forEachLine(path: string, onLine: LineHandler, chunkSize = DEFAULT_CHUNK_SIZE): Promise<void> {
  let lineNumber = 0;
  // Pieces of a line that started in an earlier chunk; joined once its end arrives.
  let pending: Buffer[] = [];
  // The previous chunk ended in CR: an LF opening this one completes that CRLF, it is not an empty line.
  let afterCarriageReturn = false;
  const emit = (buf: Buffer, start: number, end: number): void => {
    lineNumber++;
    if (lineNumber === 1) start += bomLength(buf, start, end);
    onLine(buf, start, end, lineNumber);
  };
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>) {
      let start = afterCarriageReturn && chunk[0] === NEWLINE ? 1 : 0;
      afterCarriageReturn = false;
      // The next LF and CR at or after `start`, each searched for again only once passed (-1: none left).
      let newline = chunk.indexOf(NEWLINE, start);
      let carriageReturn = chunk.indexOf(CARRIAGE_RETURN, start);
      while (newline >= 0 || carriageReturn >= 0) {
        const end = newline < 0 ? carriageReturn : carriageReturn < 0 ? newline : Math.min(newline, carriageReturn);
        if (pending.length > 0) {
          pending.push(chunk.subarray(start, end));
          const line = Buffer.concat(pending);
          pending = [];
          emit(line, 0, line.length);
        } else {
          emit(chunk, start, end);
        }
        start = end + 1;
        if (end === carriageReturn) {
          if (start === chunk.length) afterCarriageReturn = true;
          else if (chunk[start] === NEWLINE) start++;
        }
        if (newline >= 0 && newline < start) newline = chunk.indexOf(NEWLINE, start);
        if (carriageReturn >= 0 && carriageReturn < start) carriageReturn = chunk.indexOf(CARRIAGE_RETURN, start);
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
  } catch (err) {
    throw unreadable(path, err);
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

/**
 * Reads the first `maxBytes` of `path` (the first line is cut there if longer). A file that cannot be read (missing,
 * a directory, not permitted) is a DataError naming it.
 */
export async function readHead(path: string, maxBytes = 1 << 16): Promise<FileHead> {
  try {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      const buf = Buffer.alloc(Math.min(maxBytes, size));
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead === 0) return { firstLine: undefined, estimatedLines: 0 };
      const head = buf.subarray(0, bytesRead);
      const start = bomLength(head, 0, head.length);
      const ends = [head.indexOf(NEWLINE, start), head.indexOf(CARRIAGE_RETURN, start)].filter((at) => at >= 0);
      const estimatedLines = Math.ceil((size / bytesRead) * Math.max(countLines(head), 1));
      return { firstLine: head.toString("utf8", start, Math.min(head.length, ...ends)), estimatedLines };
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw unreadable(path, err);
  }
}

/** Line endings in `buf`: every LF, and every CR not followed by an LF. */
function countLines(buf: Buffer): number {
  let lines = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === NEWLINE || (buf[i] === CARRIAGE_RETURN && buf[i + 1] !== NEWLINE)) lines++;
  }
  return lines;
}

/** Why a file cannot be read, in words, by the system error's code. */
const UNREADABLE: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "no such file (a part of the path is not a directory)",
  EISDIR: "a directory, not a file",
  EACCES: "permission denied",
  EPERM: "permission denied",
};

/** A system error reading `path` as a DataError naming it; anything else unchanged. */
function unreadable(path: string, err: unknown): unknown {
  const reason = UNREADABLE[(err as NodeJS.ErrnoException | null)?.code ?? ""];
  return reason === undefined ? err : new DataError(path, 0, reason, "unreadable file");
}
