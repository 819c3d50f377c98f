// The one shape of every error response, and an error that carries its HTTP status to the error handler.
import { STATUS_CODES } from "node:http";

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
