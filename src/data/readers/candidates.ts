// A fixed candidate file: the negatives a published protocol ranks each test item against, per user.
import { DataError } from "../errors.js";
import type { IdMap } from "../idmap.js";
import { forEachLine } from "./lines.js";

/**
 * Reads `path`: one line per user, `user<sep>item<sep>item…` with tabs, commas or spaces as separators (as
 * the candidate files of NCF, SASRec and DE-RRD's code are written); a first line whose first field is
 * `user`, `user_id` or `user_id:token` is a header. Ids are the data set's (`users`, `items`); an unknown id
 * or a second line for one user is a DataError naming the file and line. Returns each user's candidates in
 * file order.
 */
export async function readCandidates(path: string, users: IdMap, items: IdMap): Promise<Map<number, Int32Array>> {
  const out = new Map<number, Int32Array>();
  await forEachLine(path, (buf, start, end, line) => {
    const fields = buf
      .toString("utf8", start, end)
      .split(/[\t, ]+/)
      .filter((f) => f.length > 0);
    if (fields.length === 0) return;
    if (line === 1 && /^user(_id)?(:token)?$/i.test(fields[0]!)) return;
    const user = users.get(fields[0]!);
    if (user === undefined) throw new DataError(path, line, `unknown user "${fields[0]}"`, "unknown user");
    if (out.has(user)) throw new DataError(path, line, `a second line for user "${fields[0]}"`, "repeated user");
    if (fields.length < 2) throw new DataError(path, line, `user "${fields[0]}" has no candidates`, "no candidates");
    out.set(
      user,
      Int32Array.from(fields.slice(1), (id) => {
        const item = items.get(id);
        if (item === undefined) throw new DataError(path, line, `unknown item "${id}"`, "unknown item");
        return item;
      }),
    );
  });
  if (out.size === 0) throw new DataError(path, 0, "no candidate lines", "empty file");
  return out;
}
