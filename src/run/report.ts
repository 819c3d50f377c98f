/**
 * The HTML report of a pipeline run: one self-contained page (inline CSS, inline SVG charts rendered
 * offline with vega-lite → vega → SVG; no scripts, no external URLs) comparing every model the run
 * trained — teachers, the student alone and the student under each distillation method — on quality,
 * size, cost and latency, with their training curves, beside the popularity reference; a second section
 * breaks quality down by segment, by task head (classification) and by fidelity to the teacher, and shows
 * what the models' top 10 lists do beyond accuracy (coverage, exposure, long tail, novelty).
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { FULL_RANKING_PREFIX, FIDELITY_PREFIX, SEGMENT_PREFIX, writeTextAtomic, type RunSummary } from "./summary.js";

/** A row of a metrics table: a model, or a reference ranker (role "reference", no size or artefact). */
interface MetricRow {
  name: string;
  role: string;
  metrics: Record<string, number>;
}

/** The models, then the reference rankers, as rows of the metric tables. */
function metricRows(run: RunSummary): MetricRow[] {
  return [...run.models, ...(run.references ?? []).map((r) => ({ ...r, role: "reference" }))];
}

/** A table column: a header and the metric it shows. */
interface MetricColumn {
  header: string;
  key: string;
  /** Whether smaller values are better (LogLoss). */
  lower?: boolean;
}

/** Columns under a common header ("cold users", "conversion"). */
interface ColumnGroup {
  header: string;
  columns: MetricColumn[];
}

const METRIC_COLUMNS: MetricColumn[] = [
  { header: "NDCG@10", key: "NDCG@10" },
  { header: "HR@10", key: "HR@10" },
  { header: "Recall@20 (full)", key: `${FULL_RANKING_PREFIX}Recall@20` },
  { header: "NDCG@20 (full)", key: `${FULL_RANKING_PREFIX}NDCG@20` },
];

/** The quality number of a model for charts: full-ranking NDCG@10 when measured, else sampled NDCG@10. */
export function headlineMetric(metrics: Record<string, number>): { key: string; value: number | undefined } {
  const full = `${FULL_RANKING_PREFIX}NDCG@10`;
  if (metrics[full] !== undefined) return { key: full, value: metrics[full] };
  return { key: "NDCG@10", value: metrics["NDCG@10"] };
}

/** Render a run as a self-contained HTML page (async: vega renders its SVG asynchronously). */
export async function renderReport(run: RunSummary): Promise<string> {
  const curves = await trainingCurves(run);
  const scatter = await qualityVsSize(run);
  const coverage = await accuracyVsCoverage(run);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`distillrec — ${run.name}`)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>distillrec run <span class="name">${escapeHtml(run.name)}</span></h1>
<p class="meta">created ${escapeHtml(run.createdAt)}</p>
<section>
<h2>Data and protocol</h2>
<dl>
<dt>dataset</dt><dd>${escapeHtml(run.dataset.name)}</dd>
<dt>users</dt><dd>${formatCount(run.dataset.users)}</dd>
<dt>items</dt><dd>${formatCount(run.dataset.items)}</dd>
<dt>interactions</dt><dd>${formatCount(run.dataset.interactions)}</dd>
<dt>protocol</dt><dd>${escapeHtml(run.protocol)}</dd>
</dl>
</section>
${failureSection(run)}<section>
<h2>Models</h2>
${modelTable(run)}
</section>
${breakdownSection(run)}${compressionSection(run)}<section>
<h2>Quality versus size</h2>
${scatter}
</section>
${coverage}<section>
<h2>Training curves</h2>
${curves}
</section>
</main>
</body>
</html>
`;
}

/** Render the report and write it atomically to `path` (parent directories are created). */
export async function writeReport(path: string, run: RunSummary): Promise<void> {
  writeTextAtomic(path, await renderReport(run));
}

// ---- table --------------------------------------------------------------------------------------

/** The metric cells of one row; the best value of each column among `models` in bold. */
function metricCells(model: MetricRow, models: MetricRow[], columns: MetricColumn[]): string[] {
  return columns.map(({ key, lower }) => {
    const value = model.metrics[key];
    if (value === undefined || !Number.isFinite(value)) return `<td class="num">–</td>`;
    const values = models.map((m) => m.metrics[key]).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const best = lower ? Math.min(...values) : Math.max(...values);
    const cls = value === best && values.length > 1 ? "num best" : "num";
    return `<td class="${cls}">${value.toFixed(4)}</td>`;
  });
}

function modelTable(run: RunSummary): string {
  const header = [
    "model",
    "role",
    "method",
    ...METRIC_COLUMNS.map((c) => c.header),
    "parameters",
    "size",
    "file",
    "FLOPs/item",
    "latency p50",
  ];
  const all = metricRows(run);
  const rows = run.models.map((m) => {
    const name = m.artefact
      ? `${escapeHtml(m.name)}<div class="artefact">${escapeHtml(m.artefact)}</div>`
      : escapeHtml(m.name);
    return [
      `<tr class="role-${m.role}">`,
      `<td>${name}</td>`,
      `<td>${m.role}</td>`,
      `<td>${escapeHtml(m.method ?? "")}</td>`,
      ...metricCells(m, all, METRIC_COLUMNS),
      `<td class="num">${formatCount(m.parameters)}</td>`,
      `<td class="num">${formatBytes(m.bytes)}</td>`,
      `<td class="num">${m.fileBytes === undefined ? "–" : formatBytes(m.fileBytes)}</td>`,
      `<td class="num">${formatCount(m.flopsPerItem)}</td>`,
      `<td class="num">${Number.isFinite(m.latencyMs) ? `${m.latencyMs.toFixed(3)} ms` : "–"}</td>`,
      "</tr>",
    ].join("");
  });
  const references = (run.references ?? []).map((r) =>
    [
      `<tr class="role-reference">`,
      `<td>${escapeHtml(r.name)}<div class="artefact">${escapeHtml(r.description)}</div></td>`,
      "<td>reference</td>",
      "<td></td>",
      ...metricCells({ ...r, role: "reference" }, all, METRIC_COLUMNS),
      ...Array<string>(5).fill('<td class="num">–</td>'),
      "</tr>",
    ].join(""),
  );
  return [
    "<table>",
    `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
    `<tbody>\n${[...rows, ...references].join("\n")}\n</tbody>`,
    "</table>",
    '<p class="note">NDCG@10 and HR@10: sampled protocol; (full): ranked against the whole catalogue. ' +
      "Best value per column in bold. Size: parameters in memory (float32); file: the saved weights.bin. " +
      "Latency: one request (score every item, take the top 10) on one thread. Reference: a ranker evaluated " +
      "with the same protocol, nothing trained or saved.</p>",
  ].join("\n");
}

// ---- failures ----------------------------------------------------------------------------------

/** Models whose training was stopped, each with the reason in words (what to change is in the message). */
function failureSection(run: RunSummary): string {
  if (!run.failures?.length) return "";
  const items = run.failures.map(
    (f) => `<li><strong>${escapeHtml(f.model)}</strong> (epoch ${f.epoch}): ${escapeHtml(f.message)}</li>`,
  );
  return `<section class="failures">
<h2>Training failures</h2>
<p>These models were stopped and are not in the tables below.</p>
<ul>
${items.join("\n")}
</ul>
</section>
`;
}

// ---- compression --------------------------------------------------------------------------------

/** Each compressed model's steps: size, validation and test NDCG@10 and latency after every step. */
function compressionSection(run: RunSummary): string {
  const compressed = run.models.filter((m) => m.compression?.length);
  if (!compressed.length) return "";
  const tables = compressed.map((m) => {
    const start = m.compression![0]!;
    const rows = m.compression!.map((r) =>
      [
        `<tr class="step-${r.status.replace(" ", "-")}">`,
        `<td>${escapeHtml(r.step)}</td>`,
        `<td>${escapeHtml(r.status)}</td>`,
        `<td class="num">${formatBytes(r.bytes)}</td>`,
        `<td class="num">${(start.bytes / r.bytes).toFixed(1)}×</td>`,
        `<td class="num">${r.validNDCG10.toFixed(4)}</td>`,
        `<td class="num">${r.testNDCG10 === null ? "–" : r.testNDCG10.toFixed(4)}</td>`,
        `<td class="num">${r.latencyMs.toFixed(3)} ms</td>`,
        `<td>${escapeHtml(r.note)}</td>`,
        "</tr>",
      ].join(""),
    );
    const header = ["step", "status", "file", "smaller", "valid NDCG@10", "test NDCG@10", "latency p50", "what it did"];
    return [
      `<h3>${escapeHtml(m.name)}</h3>`,
      "<table>",
      `<thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>`,
      `<tbody>\n${rows.join("\n")}\n</tbody>`,
      "</table>",
    ].join("\n");
  });
  return `<section>
<h2>Compression</h2>
${tables.join("\n")}
<p class="note">Each step is evaluated after it is applied (and fine-tuned); a step whose validation NDCG@10 drop
from the start exceeds the budget is rolled back. Rows after a rollback show the model that was kept.</p>
</section>
`;
}

// ---- breakdown ----------------------------------------------------------------------------------

/** Segments, task heads and fidelity, one table each for the models that have them; "" when none has any. */
function breakdownSection(run: RunSummary): string {
  const keys = [...new Set(metricRows(run).flatMap((m) => Object.keys(m.metrics)))];
  const segments = distinct(keys, (k) => k.match(new RegExp(`^${SEGMENT_PREFIX}(.+):NDCG@10$`))?.[1]);
  const tasks = distinct(keys, (k) => (isTaskMetric(k) ? k.match(/^([^:]+):AUC$/)?.[1] : undefined));
  const parts = [
    groupedTable(
      run,
      "Segments",
      segments.map((segment) => {
        const count = metricRows(run).find((m) => m.metrics[`${SEGMENT_PREFIX}${segment}:count`] !== undefined);
        const n = count?.metrics[`${SEGMENT_PREFIX}${segment}:count`];
        return {
          header: n === undefined ? segment : `${segment} (n = ${formatCount(n)})`,
          columns: ["NDCG@10", "HR@10"].map((metric) => ({
            header: metric,
            key: `${SEGMENT_PREFIX}${segment}:${metric}`,
          })),
        };
      }),
      "Sampled protocol, per segment of the test cases (n: cases; the protocol above defines the segments).",
    ),
    groupedTable(
      run,
      "Task heads",
      tasks.map((task) => ({
        header: task,
        // The main head has no LogLoss (its scores are not probabilities): its group leaves the column out.
        columns: ["AUC", "GAUC", "LogLoss"]
          .filter((metric) => keys.includes(`${task}:${metric}`))
          .map((metric) => ({ header: metric, key: `${task}:${metric}`, lower: metric === "LogLoss" })),
      })),
      "Each head as a classifier on the sampled lists: the held-out item (labelled 1 for the main, click-style " +
        "task; its conversion label for extra heads) against the sampled items (0). The main head's scores are " +
        "ranking scores, so only its AUC and GAUC (per user) apply; summary.json also holds the extra heads' " +
        "accuracy, precision, recall and F1 at 0.5.",
    ),
    groupedTable(
      run,
      "Fidelity to the teacher",
      [
        {
          header: "against the best teacher",
          columns: [
            { header: "top-10 overlap", key: `${FIDELITY_PREFIX}overlap@10` },
            { header: "Spearman", key: `${FIDELITY_PREFIX}spearman` },
            { header: "Kendall", key: `${FIDELITY_PREFIX}kendall` },
          ],
        },
      ],
      "How closely each model reproduces the teacher it learnt from (directly or through the assistant): overlap " +
        "of the two top-10 lists over the whole catalogue and rank correlations over a sample of unseen items, " +
        "averaged over a fixed sample of test users.",
    ),
    groupedTable(
      run,
      "Beyond accuracy",
      [
        {
          header: "top 10, full ranking",
          columns: [
            { header: "coverage", key: `${FULL_RANKING_PREFIX}Coverage@10` },
            { header: "Gini of exposure", key: `${FULL_RANKING_PREFIX}Gini@10`, lower: true },
            { header: "long-tail share", key: `${FULL_RANKING_PREFIX}LongTailShare@10` },
            { header: "novelty (bits)", key: `${FULL_RANKING_PREFIX}Novelty@10` },
            { header: "long-tail NDCG@10", key: `${FULL_RANKING_PREFIX}LongTailNDCG@10` },
          ],
        },
      ],
      "What the top 10 lists of all test users do beyond accuracy: coverage is the share of the catalogue " +
        "recommended to anyone; the Gini index of exposure is 0 when every item is recommended equally often " +
        "and near 1 when one item takes all; long-tail share is the share of recommended slots holding a " +
        "long-tail item (as the protocol above defines the long tail); novelty " +
        "the mean −log2 of the items' smoothed share of train interactions; long-tail NDCG@10 the NDCG@10 of " +
        "the test users whose held-out item is in the long tail.",
    ),
  ].filter((part) => part !== "");
  return parts.length === 0 ? "" : `<section>\n<h2>Breakdown</h2>\n${parts.join("\n")}\n</section>\n`;
}

/** Whether a metric key is a task head's ("<task>:<metric>", "conversion:AUC"), not another prefix's. */
export function isTaskMetric(key: string): boolean {
  return (
    key.split(":").length === 2 &&
    ![FULL_RANKING_PREFIX, SEGMENT_PREFIX, FIDELITY_PREFIX, "valid:"].some((prefix) => key.startsWith(prefix))
  );
}

/** The distinct defined values of `pick` over `keys`, in order of first appearance. */
function distinct(keys: string[], pick: (key: string) => string | undefined): string[] {
  return [...new Set(keys.map(pick).filter((v): v is string => v !== undefined))];
}

/** A table of the models with any of the groups' metrics: one header row of groups, one of columns. */
function groupedTable(run: RunSummary, title: string, groups: ColumnGroup[], note: string): string {
  const columns = groups.flatMap((g) => g.columns);
  const models = metricRows(run).filter((m) => columns.some(({ key }) => m.metrics[key] !== undefined));
  if (models.length === 0) return "";
  const groupRow = groups.map((g) => `<th colspan="${g.columns.length}" class="group">${escapeHtml(g.header)}</th>`);
  const rows = models.map((m) =>
    [
      `<tr class="role-${m.role}">`,
      `<td>${escapeHtml(m.name)}</td>`,
      `<td>${m.role}</td>`,
      ...metricCells(m, models, columns),
      "</tr>",
    ].join(""),
  );
  return [
    `<h3>${escapeHtml(title)}</h3>`,
    "<table>",
    "<thead>",
    `<tr><th rowspan="2">model</th><th rowspan="2">role</th>${groupRow.join("")}</tr>`,
    `<tr>${columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join("")}</tr>`,
    "</thead>",
    `<tbody>\n${rows.join("\n")}\n</tbody>`,
    "</table>",
    `<p class="note">${escapeHtml(note)} Best value per column in bold.</p>`,
  ].join("\n");
}

// ---- charts -------------------------------------------------------------------------------------

async function trainingCurves(run: RunSummary): Promise<string> {
  const values = run.models.flatMap((m) =>
    m.history.map((h) => ({ model: m.name, epoch: h.epoch, loss: h.loss, ndcg: h.metrics["NDCG@10"] ?? null })),
  );
  if (values.length === 0) return '<p class="note">No training history was recorded.</p>';
  const color = { field: "model", type: "nominal", title: "model" } as const;
  const spec: TopLevelSpec = {
    data: { values },
    hconcat: [
      {
        title: "training loss",
        width: 340,
        height: 220,
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
          y: { field: "loss", type: "quantitative", scale: { zero: false } },
          color,
        },
      },
      {
        title: "validation NDCG@10",
        width: 340,
        height: 220,
        transform: [{ filter: "datum.ndcg !== null" }],
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "epoch", type: "quantitative", axis: { tickMinStep: 1 } },
          y: { field: "ndcg", type: "quantitative", title: "NDCG@10", scale: { zero: false } },
          color,
        },
      },
    ],
  };
  return renderSvg(spec);
}

async function qualityVsSize(run: RunSummary): Promise<string> {
  const values = run.models
    .map((m) => ({
      model: m.name,
      role: m.role,
      // On disk: a compressed model has its source's parameters in fewer bytes.
      bytes: m.fileBytes ?? m.bytes,
      ndcg: headlineMetric(m.metrics).value,
      latency: Number.isFinite(m.latencyMs) ? m.latencyMs : null,
    }))
    .filter((v) => v.ndcg !== undefined && v.bytes > 0);
  if (values.length === 0) return '<p class="note">No model has both a size and a test NDCG@10.</p>';
  const usesFull = run.models.some((m) => headlineMetric(m.metrics).key.startsWith(FULL_RANKING_PREFIX));
  const yTitle = usesFull ? "NDCG@10 (full ranking)" : "NDCG@10 (sampled)";
  const x = {
    field: "bytes",
    type: "quantitative",
    scale: { type: "log" },
    title: "weights on disk, bytes (log scale)",
  };
  const y = { field: "ndcg", type: "quantitative", title: yTitle, scale: { zero: false } };
  const spec: TopLevelSpec = {
    data: { values },
    width: 620,
    height: 340,
    layer: [
      {
        mark: { type: "point", filled: true, opacity: 0.85 },
        encoding: {
          x,
          y,
          size: { value: 140 },
          shape: { field: "role", type: "nominal" },
          color: { field: "latency", type: "quantitative", title: "latency p50 (ms)", scale: { scheme: "viridis" } },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 9, dy: -6, fontSize: 11 },
        encoding: { x, y, text: { field: "model", type: "nominal" } },
      },
    ],
  } as TopLevelSpec;
  return renderSvg(spec);
}

/**
 * Full-ranking NDCG@10 against the catalogue coverage of the top 10, the popularity reference included: a model
 * near the reference's corner serves the bestsellers whatever its accuracy. "" when no row has both.
 */
async function accuracyVsCoverage(run: RunSummary): Promise<string> {
  const values = metricRows(run)
    .map((m) => ({
      model: m.name,
      role: m.role,
      ndcg: m.metrics[`${FULL_RANKING_PREFIX}NDCG@10`],
      coverage: m.metrics[`${FULL_RANKING_PREFIX}Coverage@10`],
    }))
    .filter((v) => v.ndcg !== undefined && v.coverage !== undefined);
  if (values.length === 0) return "";
  const x = {
    field: "coverage",
    type: "quantitative",
    title: "catalogue coverage of the top 10",
    axis: { format: "%", tickCount: 8 },
  };
  const y = { field: "ndcg", type: "quantitative", title: "NDCG@10 (full ranking)", scale: { zero: false } };
  const spec = {
    data: { values },
    width: 620,
    height: 300,
    layer: [
      {
        mark: { type: "point", filled: true, opacity: 0.85, size: 140 },
        encoding: { x, y, shape: { field: "role", type: "nominal" }, color: { field: "role", type: "nominal" } },
      },
      {
        mark: { type: "text", align: "left", dx: 9, dy: -6, fontSize: 11 },
        encoding: { x, y, text: { field: "model", type: "nominal" } },
      },
    ],
  } as TopLevelSpec;
  return `<section>
<h2>Accuracy versus coverage</h2>
${await renderSvg(spec)}
<p class="note">Each model's and the popularity reference's full-ranking NDCG@10 against the share of the catalogue
their top 10 lists reach over all test users.</p>
</section>
`;
}

/** A vega-lite spec as an inline SVG element (namespace attributes dropped: HTML5 parsers add them). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, "").replace(/xlink:href=/g, "href=");
  } finally {
    view.finalize();
  }
}

// ---- formatting ---------------------------------------------------------------------------------

/** Escape text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f6f7f9; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h1 .name { color: #3559b5; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #d8dce4; padding-bottom: 4px; }
h3 { font-size: 14.5px; margin: 18px 0 8px; }
.meta, .note { color: #5b6475; font-size: 12.5px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dt { color: #5b6475; }
dd { margin: 0; }
table { border-collapse: collapse; background: white; width: 100%; font-size: 13px; }
th, td { padding: 6px 9px; border-bottom: 1px solid #e4e7ed; text-align: left; vertical-align: top; }
th { background: #eef1f6; font-weight: 600; }
th.group { text-align: center; border-left: 1px solid #d8dce4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { font-weight: 700; }
tr.role-teacher td:first-child { border-left: 3px solid #c0392b; }
tr.role-assistant td:first-child { border-left: 3px solid #d68910; }
tr.role-student td:first-child { border-left: 3px solid #7f8c8d; }
tr.role-distilled td:first-child { border-left: 3px solid #2e86c1; }
tr.role-compressed td:first-child { border-left: 3px solid #1e8449; }
tr.role-reference td { color: #5b6475; font-style: italic; }
tr.step-rolled-back td, tr.step-skipped td { color: #7f8c8d; }
.artefact { color: #8a93a3; font-size: 11px; }
svg { max-width: 100%; height: auto; background: white; }
`;
