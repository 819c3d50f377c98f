/**
 * The models directory: the one place a client may swap artefacts in from. A path a client gives is
 * resolved inside it and refused if it could lead anywhere else; answers name artefacts relative to it, so
 * no server path reaches a client.
 */
import { realpathSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";

/** A swap named a path the models directory rule refuses; the message states the rule, never a server path. */
export class ModelPathError extends Error {
  readonly statusCode = 403;
}

const RULE =
  "a swap names an artefact inside the models directory (--models): a path relative to it, " +
  "without '..' and not leaving it through a symbolic link";

/**
 * The real path of the artefact `given` names: relative to `modelsDir` (or absolute inside it). Throws a
 * ModelPathError for a `..` segment or a path (a symbolic link included) that leads out of the directory.
 * A path that does not exist is returned as it is, for the artefact check to refuse.
 */
export function resolveInModelsDir(modelsDir: string, given: string): string {
  if (given.includes("\0")) throw new ModelPathError(`${RULE} (the path holds a NUL byte)`);
  if (given.split(/[/\\]/).includes("..")) throw new ModelPathError(`${RULE} ('..' is not allowed)`);
  const root = resolve(modelsDir);
  const path = resolve(root, given);
  if (!inside(root, path)) throw new ModelPathError(`${RULE} (this path is outside it)`);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return path;
  }
  // A link inside the directory may point out of it: compare the real paths.
  if (!inside(realpathSync(root), real)) throw new ModelPathError(`${RULE} (a symbolic link leads out of it)`);
  return real;
}

/** `dir` relative to `modelsDir`, or null when it lies elsewhere (the startup artefact, an online student). */
export function nameInModelsDir(modelsDir: string, dir: string): string | null {
  const root = resolve(modelsDir);
  const path = resolve(dir);
  if (inside(root, path) && path !== root) return relative(root, path).split(sep).join("/");
  try {
    const real = realpathSync(root);
    return inside(real, path) && path !== real ? relative(real, path).split(sep).join("/") : null;
  } catch {
    return null;
  }
}

/** Whether `path` is `root` or lies below it (both absolute and normalised). */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
