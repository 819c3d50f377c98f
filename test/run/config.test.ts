import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigError,
  defaultPipelineConfig,
  loadPipelineConfig,
  METHOD_PRESETS,
  validatePipelineConfig,
} from "../../src/run/config.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const yamlText = `
name: tiny
data:
  kind: synthetic
  synthetic: { users: 200, items: 100, events: 5000 }
teachers:
  - name: mf
    model: { kind: bpr-mf, dim: 32 }
    train: { epochs: 2 }
student:
  model: { kind: bpr-mf, dim: 8 }
distillation:
  methods:
    - name: ranking
      weights: { hard: 1, ranking: 0.5 }
`;

function problemsOf(raw: unknown): string[] {
  try {
    validatePipelineConfig(raw, "config.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

describe("pipeline config", () => {
  test("a YAML file loads with every default filled in", () => {
    const path = join(dir, "tiny.yaml");
    writeFileSync(path, yamlText);
    const config = loadPipelineConfig(path);
    assert.equal(config.seed, 0);
    assert.deepEqual(config.split, { kind: "leave-one-out" });
    assert.deepEqual(config.evaluation, { negatives: 499, validationNegatives: 99, ks: [10, 20], fullRanking: true });
    assert.deepEqual(config.teachers[0]!.train, {
      epochs: 2,
      batchSize: 1024,
      lr: 0.001,
      optimizer: "adam",
      patience: 3,
    });
    assert.equal(config.student.train.epochs, 20);
    assert.deepEqual(config.distillation.softLabels, { negatives: 100, topK: 10, positivesPerUser: 1, cache: true });
    assert.equal(config.output.dir, "runs/tiny");
    assert.equal(config.teachers[0]!.model.kind, "bpr-mf");
  });

  test("a JSON file loads the same and keeps extra model settings", () => {
    const path = join(dir, "tiny.json");
    writeFileSync(
      path,
      JSON.stringify({
        name: "tiny",
        data: { kind: "file", path: "x.csv", format: "csv" },
        teachers: [{ name: "t", model: { kind: "two-tower", dim: 8, pooling: "attention" } }],
        student: { model: { kind: "bpr-mf", dim: 4 } },
        distillation: { methods: [{ name: "none" }] },
        output: { dir: "elsewhere" },
      }),
    );
    const config = loadPipelineConfig(path);
    assert.equal((config.teachers[0]!.model as { pooling?: string }).pooling, "attention");
    assert.deepEqual(config.distillation.methods[0], { name: "none", weights: {} });
    assert.equal(config.output.dir, "elsewhere");
  });

  test("an invalid config lists every problem with its path", () => {
    const problems = problemsOf({
      name: "bad",
      seed: 1.5,
      data: { kind: "recbole" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 12.5 }, train: { optimiser: "adam" } }],
      student: { model: { kind: "resnet" } },
      distillation: { methods: [] },
      extra: true,
    });
    const expected = [
      "config.yaml: /seed must be integer",
      "config.yaml: /data must have required property 'path'",
      "config.yaml: /teachers/0/model/dim must be integer",
      'config.yaml: /teachers/0/train has unknown property "optimiser"',
      "config.yaml: /student/model/kind must be equal to one of the allowed values",
      "config.yaml: /distillation/methods must NOT have fewer than 1 items",
      'config.yaml: (root) has unknown property "extra"',
    ];
    for (const line of expected) {
      assert.ok(
        problems.some((p) => p.startsWith(line)),
        `missing "${line}" in:\n${problems.join("\n")}`,
      );
    }
  });

  test("duplicate names and unparseable files are refused", () => {
    const raw = {
      name: "dup",
      data: { kind: "synthetic" },
      teachers: [
        { name: "t", model: { kind: "bpr-mf", dim: 8 } },
        { name: "t", model: { kind: "bpr-mf", dim: 16 } },
      ],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "none" }] },
    };
    assert.deepEqual(problemsOf(raw), ['config.yaml: /teachers/1/name "t" is used twice']);
    const path = join(dir, "broken.yaml");
    writeFileSync(path, "name: [unclosed");
    assert.throws(() => loadPipelineConfig(path), /broken\.yaml: cannot parse/);
    assert.throws(() => loadPipelineConfig(join(dir, "absent.yaml")), /absent\.yaml: cannot read: ENOENT/);
  });

  test("ensemble soft labels name a consensus kind and configured teachers", () => {
    const raw = (ensemble: unknown) => ({
      name: "ensemble",
      data: { kind: "synthetic" },
      teachers: [
        { name: "mf", model: { kind: "bpr-mf", dim: 8 } },
        { name: "neumf", model: { kind: "neumf", gmfDim: 8, mlpSizes: [8] } },
      ],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: {
        methods: [{ name: "rrd", weights: { relaxedRanking: 1, rrdInteresting: 5 } }],
        softLabels: { ensemble },
      },
    });
    const valid = validatePipelineConfig(raw({ consensus: "rank", teachers: ["mf", "neumf"] }));
    assert.deepEqual(valid.distillation.softLabels.ensemble, { consensus: "rank", teachers: ["mf", "neumf"] });
    assert.deepEqual(problemsOf(raw({ consensus: "score", teachers: ["mf", "gru"] })), [
      'config.yaml: /distillation/softLabels/ensemble/teachers/1 "gru" is not a configured teacher',
    ]);
    assert.match(
      problemsOf(raw({ consensus: "vote" })).join("\n"),
      /consensus must be equal to one of the allowed values/,
    );
  });

  test("a method's hard loss is bpr or bce; anything else is refused with the allowed values", () => {
    const raw = (hardLoss: string) => ({
      name: "hard",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 } }],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "m", weights: { hard: 1, hardLoss } }] },
    });
    for (const kind of ["bpr", "bce"]) {
      assert.equal(validatePipelineConfig(raw(kind)).distillation.methods[0]!.weights.hardLoss, kind);
    }
    assert.deepEqual(problemsOf(raw("hinge")), [
      'config.yaml: /distillation/methods/0/weights/hardLoss must be equal to one of the allowed values ("bpr", "bce")',
    ]);
  });

  test("a split given as files needs valid and test; leave-one-out takes no files; regularisation is schema'd", () => {
    const raw = (split: Record<string, unknown>, train: Record<string, unknown> = {}) => ({
      name: "split",
      data: { kind: "file", path: "train.tsv" },
      split,
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 }, train }],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "m", weights: { hard: 1 } }] },
    });
    const files = { kind: "files", valid: "v.tsv", test: "t.tsv", candidates: "c.txt" };
    assert.deepEqual(validatePipelineConfig(raw(files)).split, files);
    assert.ok(
      problemsOf(raw({ kind: "files", valid: "v.tsv" })).some((p) =>
        /\/split must have required property 'test'/.test(p),
      ),
    );
    assert.ok(
      problemsOf(raw({ kind: "leave-one-out", test: "t.tsv" })).some((p) =>
        /\/split has settings that do not apply to this kind/.test(p),
      ),
    );
    const train = { weightDecay: 1e-3, lossReduction: "sum", tableUpdates: "dense", l2: 0, validateEvery: 2 };
    assert.deepEqual(
      Object.fromEntries(
        Object.keys(train).map((k) => [
          k,
          (validatePipelineConfig(raw({}, train)).teachers[0]!.train as unknown as Record<string, unknown>)[k],
        ]),
      ),
      train,
    );
    assert.ok(
      problemsOf(raw({}, { lossReduction: "max" })).some((p) =>
        /lossReduction must be equal to one of the allowed values \("mean", "sum"\)/.test(p),
      ),
    );
  });

  test("a student may use int8 retrieval and compositional id tables; bad ones are refused by path", () => {
    const raw = (model: Record<string, unknown>) => ({
      name: "tables",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 } }],
      student: { model: { kind: "two-tower", dim: 4, ...model } },
      distillation: { methods: [{ name: "m", weights: { hard: 1 } }] },
    });
    const ok = { retrieval: "int8", userTable: { kind: "qr", remainderRows: 50 }, itemTable: { kind: "full" } };
    assert.deepEqual(validatePipelineConfig(raw(ok)).student.model, { kind: "two-tower", dim: 4, ...ok });
    assert.deepEqual(problemsOf(raw({ retrieval: "int4" })), [
      'config.yaml: /student/model/retrieval must be equal to one of the allowed values ("f32", "int8")',
    ]);
    assert.deepEqual(problemsOf(raw({ userTable: { kind: "hashed" } })), [
      "config.yaml: /student/model/userTable must have required property 'buckets'",
    ]);
  });

  test("a compression stage gets its defaults, and a step it cannot parse is refused by path", () => {
    const raw = (steps: string[]) => ({
      name: "compressed",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 } }],
      student: { model: { kind: "bpr-mf", dim: 4 } },
      distillation: { methods: [{ name: "m", weights: { hard: 1 } }] },
      compression: { steps },
    });
    assert.deepEqual(validatePipelineConfig(raw(["int8", "prune:0.5"])).compression, {
      steps: ["int8", "prune:0.5"],
      budget: 0.02,
      onExceed: "rollback",
      fineTuneEpochs: 2,
      lr: 0.001,
    });
    assert.deepEqual(problemsOf(raw(["int8", "prune:2"])), [
      'config.yaml: /compression/steps/1 step "prune:2": sparsity must be in (0, 1)',
    ]);
  });

  test("a method may weigh a multi-task student's task labels (hardTasks ≥ 0)", () => {
    const raw = (hardTasks: number) => ({
      name: "tasks",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 } }],
      student: { model: { kind: "deep-ranker", embeddingDim: 4 } },
      distillation: { methods: [{ name: "m", weights: { hard: 1, hardTasks } }] },
    });
    assert.equal(validatePipelineConfig(raw(0.5)).distillation.methods[0]!.weights.hardTasks, 0.5);
    assert.deepEqual(problemsOf(raw(-1)), ["config.yaml: /distillation/methods/0/weights/hardTasks must be >= 0"]);
  });

  test("teachers and the student accept a learning-rate schedule", () => {
    const config = validatePipelineConfig({
      name: "scheduled",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 }, train: { schedule: { kind: "step", stepSize: 2 } } }],
      student: {
        model: { kind: "bpr-mf", dim: 4 },
        train: { schedule: { kind: "warmup", warmupSteps: 2, then: { kind: "exponential", gamma: 0.9 } } },
      },
      distillation: { methods: [{ name: "none" }] },
    });
    assert.deepEqual(config.teachers[0]!.train.schedule, { kind: "step", stepSize: 2 });
    assert.deepEqual(config.student.train.schedule, {
      kind: "warmup",
      warmupSteps: 2,
      then: { kind: "exponential", gamma: 0.9 },
    });
    assert.equal(defaultPipelineConfig().student.train.schedule, undefined, "no schedule unless configured");
  });

  test("a bad schedule is refused with a message naming the field", () => {
    const raw = (schedule: unknown) => ({
      name: "scheduled",
      data: { kind: "synthetic" },
      teachers: [{ name: "t", model: { kind: "bpr-mf", dim: 8 } }],
      student: { model: { kind: "bpr-mf", dim: 4 }, train: { schedule } },
      distillation: { methods: [{ name: "none" }] },
    });
    const at = "config.yaml: /student/train/schedule";
    assert.deepEqual(problemsOf(raw({ kind: "step", stepSize: 0 })), [`${at}/stepSize must be >= 1`]);
    assert.deepEqual(problemsOf(raw({ kind: "step" })), [`${at} must have required property 'stepSize'`]);
    assert.deepEqual(problemsOf(raw({ kind: "exponential", gamma: 0 })), [`${at}/gamma must be > 0`]);
    assert.deepEqual(problemsOf(raw({ kind: "warmup", warmupSteps: 2, gamma: 0.5 })), [
      `${at}/gamma does not apply to this kind`,
    ]);
    assert.deepEqual(problemsOf(raw({ kind: "cosine" })), [
      `${at}/kind must be equal to one of the allowed values ("step", "exponential", "warmup")`,
    ]);
    assert.deepEqual(problemsOf(raw({ stepSize: 2 })), [`${at} must have required property 'kind'`]);
    assert.deepEqual(problemsOf(raw({ kind: "warmup", warmupSteps: 1, then: { kind: "warmup", warmupSteps: 1 } })), [
      `${at}/then/kind must be equal to one of the allowed values ("step", "exponential")`,
    ]);
  });

  test("the default pipeline validates and compares several methods", () => {
    const config = defaultPipelineConfig();
    assert.equal(config.data.kind, "synthetic");
    assert.deepEqual(
      config.teachers.map((t) => t.model.kind),
      ["sasrec", "two-tower"],
    );
    // The student is a tiny sequence model of the sequential teacher's kind, so there is something to distil.
    assert.equal(config.student.model.kind, "sasrec");
    assert.deepEqual(
      config.distillation.methods.map((m) => m.name),
      ["none", "listwise", "ranking", "relaxed-ranking"],
    );
    for (const m of config.distillation.methods) assert.deepEqual(m.weights, METHOD_PRESETS[m.name]);
  });
});
