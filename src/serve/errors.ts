// The one shape of every error response, and an error that carries its HTTP status to the error handler.
import { STATUS_CODES } from "node:http";
import { sep } from "node:path";

/** A request the server refuses with `statusCode`; the message is the reason given to the client. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** `{ statusCode, error, message }`, as Fastify's own errors look. */
export function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: STATUS_CODES[statusCode] ?? "Error", message };
}

/**
 * A message fit for a client: paths under the working directory become relative and any other absolute
 * path keeps only its last parts (never its root), so answers show which file was wrong without
 * mapping the disk.
 */
export function withoutPaths(message: string): string {
  const cwd = process.cwd() + sep;
  return message
    .split(cwd)
    .join("")
    .replace(/(?<![\w.~-])\/(?:[^\s/"'`:,;()]+\/)*[^\s/"'`:,;()]+/g, (path) => {
      const parts = path.split("/").filter(Boolean);
      return `…/${parts.slice(parts.length > 2 ? -2 : -1).join("/")}`;
    });
}
