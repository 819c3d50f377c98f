/**
 * A file (or buffer, or directory) refused for a stated reason; the message is `source: reason`. Each
 * format has its own subclass so callers can tell them apart, and `reason` stays available on its own for
 * callers that wrap one refusal in another.
 */
export class FileError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = new.target.name;
  }
}
