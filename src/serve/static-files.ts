// The page files the server ships (src/serve/static/, copied beside the compiled modules by `npm run build`).
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The directory of the shipped page files. */
export const STATIC_DIR = fileURLToPath(new URL("./static/", import.meta.url));

/** The path of one shipped file. */
export function staticFile(name: string): string {
  return join(STATIC_DIR, name);
}
