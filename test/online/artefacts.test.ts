import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadArtefact, saveArtefact } from "../../src/models/artefact.js";
import { openOnline, saveOnline } from "../../src/online/artefacts.js";
import { OnlineModel, type LiveEvent } from "../../src/online/model.js";
import { habitEvents, ITEMS, itemId, plantedBase, USERS, userId } from "../helpers/online.js";

const root = mkdtempSync(join(tmpdir(), "distillrec-online-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A teacher and its student saved side by side, the student's lineage naming the teacher. */
function saveSiblings(parent: string): { studentDir: string; teacherDir: string; teacherId: string } {
  const teacher = plantedBase({ kind: "two-tower", dim: 8, maxHistory: 4, userLayers: [8], seed: 4 }, 20);
  const student = plantedBase({ kind: "two-tower", dim: 8, maxHistory: 4, seed: 3 }, 40);
  const teacherDir = join(parent, "teacher");
  const studentDir = join(parent, "student");
  const { id: teacherId } = saveArtefact(teacherDir, { ...teacher, lineage: { role: "teacher" } });
  saveArtefact(studentDir, { ...student, lineage: { teacher: teacherId, method: "listwise" } });
  return { studentDir, teacherDir, teacherId };
}

describe("online artefacts", () => {
  test("openOnline opens a student and the teacher its lineage names beside it, or none when asked", () => {
    const { studentDir, teacherDir } = saveSiblings(join(root, "open"));
    const opened = openOnline(studentDir, undefined, { userSlots: 3, itemSlots: 2 });
    assert.equal(resolve(opened.teacherDir!), resolve(teacherDir));
    assert.ok(opened.teacher);
    assert.equal(opened.student.base.users.size, USERS);
    assert.equal(opened.student.users.capacity, 3);
    assert.equal(opened.teacher.items.capacity, 2);
    assert.deepEqual(opened.teacher.spec, loadArtefact(teacherDir).manifest.spec);
    const alone = openOnline(studentDir, false);
    assert.equal(alone.teacher, null);
    assert.equal(alone.teacherDir, undefined);
    const explicit = openOnline(studentDir, studentDir);
    assert.equal(explicit.teacherDir, studentDir);
  });

  test("saveOnline writes an artefact that loads and scores as the online student, naming what it grew from", () => {
    const { studentDir, teacherId } = saveSiblings(join(root, "save"));
    const { student, artefact } = openOnline(studentDir, false, {
      userSlots: 4,
      itemSlots: 3,
      optimizer: { optimizer: "adam", lr: 0.03 },
      // Every new id takes a slot at its first event.
      admitAfter: 1,
    });
    const events: LiveEvent[] = [
      ...habitEvents(150, 40),
      ...["n1", "n2", "n3"].map((user, k) => ({ user, item: `x${k}`, timestamp: 1e6 + k })),
      { user: "n1", item: itemId(5), timestamp: 2e6 },
    ];
    student.learn(events, 50);
    const dir = join(root, "save", "online");
    const manifest = saveOnline(dir, student, artefact, { run: "test" });
    const loaded = loadArtefact(dir);
    assert.equal(loaded.manifest.id, manifest.id);
    assert.equal(loaded.manifest.lineage.onlineFrom, artefact.manifest.id);
    assert.equal(loaded.manifest.lineage.onlineEvents, events.length);
    assert.equal(loaded.manifest.lineage.run, "test");
    // The lineage it grew from carries on: `serve` still finds the teacher.
    assert.equal(loaded.manifest.lineage.teacher, teacherId);
    assert.equal(loaded.manifest.lineage.method, "listwise");
    assert.equal(loaded.manifest.numUsers, USERS + 3);
    assert.equal(loaded.manifest.numItems, ITEMS + 3);
    assert.deepEqual(loaded.users.toJSON(), student.export().users.toJSON());
    assert.deepEqual(loaded.items.toJSON(), student.export().items.toJSON());

    const scorer = loaded.model.scorer();
    const items = loaded.items.toJSON();
    const rows = Int32Array.from(items, (_, i) => i);
    for (const user of [userId(0), userId(17), "n1", "n3", "nobody"]) {
      const history = student.recentItems(user);
      const expected = student.score(user, history, items);
      const got = scorer.scoreCandidates(
        {
          user: loaded.users.get(user) ?? loaded.model.numUsers,
          history: Int32Array.from(history, (i) => loaded.items.get(i)!),
        },
        rows,
      );
      expected.forEach((e, i) =>
        assert.ok(Math.abs(got[i]! - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${user}[${i}]: ${got[i]} vs ${e}`),
      );
    }
    // Opened again as an online model, it carries on from where the student was.
    const reopened = new OnlineModel(loaded, {});
    for (const user of [userId(3), "n2"]) {
      const history = student.recentItems(user);
      assert.deepEqual(reopened.score(user, history, items), student.score(user, history, items));
    }
  });
});
