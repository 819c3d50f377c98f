// The dashboard page: polls /dashboard/api/status every POLL_MS and redraws; asks for the bearer token when
// the server needs one and keeps it in sessionStorage (this tab only).
"use strict";

const POLL_MS = 2000;
const TOKEN_KEY = "distillrec-token";
const $ = (id) => document.getElementById(id);
const charts = {};
let status;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path) {
  const headers = token() ? { authorization: `Bearer ${token()}` } : {};
  const response = await fetch(path, { headers });
  if (response.status === 401) throw Object.assign(new Error("the token was refused"), { unauthorized: true });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message || `${path}: ${response.status}`);
  }
  return response;
}

const json = async (path) => (await api(path)).json();

function number(n, digits = 0) {
  return n === null || n === undefined ? "–" : n.toLocaleString("en", { maximumFractionDigits: digits });
}

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

const metric = (metrics, name) => metrics[`full:${name}`] ?? metrics[name];
const percent = (share) => (share === null || share === undefined ? "–" : `${(share * 100).toFixed(1)}%`);

function list(id, pairs) {
  const dl = $(id);
  dl.replaceChildren(
    ...pairs.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = term;
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

function items(id, entries) {
  $(id).replaceChildren(
    ...entries.map(({ id: item, text }) => {
      const li = document.createElement("li");
      li.dataset.id = item;
      li.textContent = text;
      return li;
    }),
  );
}

/** Embed a vega-lite spec once there is data (an empty scale draws at infinity); later calls replace its datasets. */
async function chart(id, spec, data) {
  if (!charts[id]) {
    if (Object.values(data).every((rows) => rows.length === 0)) {
      $(id).textContent = "No data yet.";
      return;
    }
    $(id).textContent = "";
    // The first data goes in the spec itself: a view first drawn empty would draw at infinity.
    const full = { width: "container", height: 180, ...spec, datasets: data };
    charts[id] = vegaEmbed(`#${id}`, full, { actions: false, renderer: "svg" });
    await charts[id];
    return;
  }
  // Nothing to show any more (an idle spell): the last picture stays rather than an empty scale.
  if (Object.values(data).every((rows) => rows.length === 0)) return;
  const { view } = await charts[id];
  for (const [name, rows] of Object.entries(data)) {
    view.change(
      name,
      vega
        .changeset()
        .remove(() => true)
        .insert(rows),
    );
  }
  await view.runAsync();
}

const timeAxis = { field: "time", type: "temporal", title: null, axis: { format: "%H:%M:%S" } };

function renderCards(s) {
  const { model } = s;
  $("model-version").textContent = model.name ? `${model.name} · ${model.version}` : model.version;
  const l = model.lineage;
  // An online student has no test figures of its own: its latest prequential window stands beside them.
  const window = s.online?.windows[s.online.windows.length - 1];
  list("model", [
    ["version", model.version],
    ["kind", model.kind],
    ["role", [l.role, l.method && `method ${l.method}`].filter(Boolean).join(", ") || "–"],
    ["parameters", number(model.parameters)],
    ["weights.bin", bytes(model.fileBytes)],
    ["test NDCG@10", number(metric(model.metrics, "NDCG@10"), 4)],
    ["test HR@10", number(metric(model.metrics, "HR@10"), 4)],
    // Beyond accuracy (full ranking): how much of the catalogue the top 10 reach, and quality on the long tail.
    ["test coverage@10", percent(metric(model.metrics, "Coverage@10"))],
    ["test long-tail NDCG@10", number(metric(model.metrics, "LongTailNDCG@10"), 4)],
    ...(window ? [["live NDCG@10", `${number(window.ndcg, 4)} (last ${number(window.events)} events)`]] : []),
    ["dataset", l.dataset ?? "–"],
    ["run", l.run ?? "–"],
    ...(l.onlineFrom ? [["learned online from", `${l.onlineFrom} (+${number(l.onlineEvents)} events)`]] : []),
    ["loaded", new Date(model.loadedAt).toLocaleTimeString()],
    ["previous", s.previous ?? "–"],
  ]);
  const t = model.teacher;
  list(
    "teacher",
    t
      ? [
          ["version", t.version],
          ["kind", t.kind],
          ["parameters", number(t.parameters)],
          ["weights.bin", bytes(t.fileBytes)],
          ["test NDCG@10", number(metric(t.metrics, "NDCG@10"), 4)],
          ["test coverage@10", percent(metric(t.metrics, "Coverage@10"))],
          ["test long-tail NDCG@10", number(metric(t.metrics, "LongTailNDCG@10"), 4)],
          ["student is", `${(t.fileBytes / Math.max(1, model.fileBytes)).toFixed(1)}× smaller`],
        ]
      : [["teacher", l.teacher ? `${l.teacher} (not on this server)` : "none: trained without one"]],
  );
  const c = s.catalogue;
  list("catalogue", [
    ["items", number(c.items)],
    ["from the model", number(c.modelItems)],
    ["added live", number(c.items - c.modelItems)],
    ["attributes", c.attributes.join(", ") || "–"],
    ["users with live events", number(s.users)],
  ]);
  const last = s.traffic[s.traffic.length - 1];
  list("traffic", [
    ["requests/s", number(last?.requestsPerSecond, 1)],
    ["p50 / p95 / p99", last ? `${number(last.p50, 2)} / ${number(last.p95, 2)} / ${number(last.p99, 2)} ms` : "–"],
    ["events/s", number(last?.eventsPerSecond, 1)],
    ["events stored", number(s.events)],
    ["online learning", s.online ? `${s.online.state}, ${number(s.online.learned)} learned` : "off"],
  ]);
  const link = $("report-link");
  link.hidden = !s.report;
  if (s.report) link.textContent = `pipeline report (run ${s.report.run})`;
}

async function renderCharts(s) {
  const rates = s.traffic.flatMap((t) => [
    { time: t.time, series: "requests/s", value: t.requestsPerSecond },
    { time: t.time, series: "events/s", value: t.eventsPerSecond },
  ]);
  const latency = s.traffic.flatMap((t) =>
    ["p50", "p95", "p99"].filter((p) => t[p] !== null).map((p) => ({ time: t.time, series: p, value: t[p] })),
  );
  const line = (title) => ({
    data: { name: "rows" },
    mark: { type: "line", interpolate: "monotone" },
    encoding: {
      x: timeAxis,
      y: { field: "value", type: "quantitative", title },
      color: { field: "series", type: "nominal", title: null },
    },
  });
  const popular = s.popular.map((p) => ({ id: p.id, score: p.score }));
  const online = s.online;
  $("online-note").textContent = online
    ? `${online.state}; ${number(online.learned)} events learned, ${number(online.lag)} behind` +
      (online.error ? `; stopped: ${online.error}` : "")
    : "Online learning is off (start the server with --online).";
  $("chart-online").hidden = !online;
  items(
    "decisions",
    (online?.decisions ?? [])
      .slice()
      .reverse()
      .map((d) => ({
        id: d.kind,
        text: `${new Date(d.time).toLocaleTimeString()} · ${d.kind} at ${d.at}: ${d.reason}`,
      })),
  );
  await Promise.all([
    chart("chart-rates", line("per second"), { rows: rates }),
    chart("chart-latency", line("ms"), { rows: latency }),
    chart(
      "chart-popular",
      {
        data: { name: "rows" },
        mark: { type: "bar", color: "#3b6fd8" },
        encoding: {
          y: { field: "id", type: "nominal", sort: "-x", title: null },
          x: { field: "score", type: "quantitative", title: "popularity" },
          tooltip: [{ field: "id" }, { field: "score", format: ".2f" }],
        },
      },
      { rows: popular },
    ),
    online &&
      chart(
        "chart-online",
        {
          layer: [
            {
              data: { name: "windows" },
              transform: [{ fold: ["hr", "ndcg"], as: ["metric", "value"] }],
              mark: { type: "line", point: true },
              encoding: {
                x: { field: "at", type: "quantitative", title: "events learned" },
                y: { field: "value", type: "quantitative", title: "prequential @10" },
                color: { field: "metric", type: "nominal", title: null },
              },
            },
            {
              data: { name: "decisions" },
              mark: { type: "rule", strokeDash: [4, 3] },
              encoding: {
                x: { field: "at", type: "quantitative" },
                color: { field: "kind", type: "nominal", title: "decision" },
                tooltip: [{ field: "kind" }, { field: "reason" }],
              },
            },
          ],
          resolve: { scale: { color: "independent" } },
        },
        { windows: online.windows, decisions: online.decisions },
      ),
  ]);
}

async function refresh() {
  try {
    status = await json("/dashboard/api/status");
    renderCards(status);
    await renderCharts(status);
    $("live").classList.remove("stale");
    $("error").textContent = "";
  } catch (err) {
    $("live").classList.add("stale");
    if (err.unauthorized) return askForToken("the token was refused");
    $("error").textContent = err.message;
  }
  setTimeout(refresh, POLL_MS);
}

function askForToken(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

function start() {
  $("login").hidden = true;
  $("main").hidden = false;
  refresh();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  start();
});

$("user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = $("user-id").value.trim();
  if (!user) return;
  const path = encodeURIComponent(user);
  try {
    const [info, recommended] = await Promise.all([
      json(`/dashboard/api/users/${path}`),
      json(`/v1/recommend/${path}?k=10`),
    ]);
    $("user-summary").textContent =
      `${info.known ? "known to the model" : "new to the model"}; ${number(info.events)} live events` +
      (recommended.fallback ? `; recommendations from ${recommended.fallback} items` : "");
    items(
      "user-history",
      info.history.map((id) => ({ id, text: id })),
    );
    items(
      "user-recommendations",
      recommended.items.map((i) => ({ id: i.id, text: `${i.id}  (${i.score.toFixed(3)})` })),
    );
  } catch (err) {
    if (err.unauthorized) return askForToken("the token was refused");
    $("user-summary").textContent = err.message;
  }
});

// The report is fetched with the token, then shown from memory: a plain link could not carry it.
$("report-link").addEventListener("click", async (event) => {
  event.preventDefault();
  try {
    const blob = await (await api("/dashboard/report")).blob();
    window.open(URL.createObjectURL(blob), "_blank");
  } catch (err) {
    $("error").textContent = err.message;
  }
});

(async () => {
  try {
    const session = await json("/dashboard/api/session");
    if (session.token === "required" && !token()) askForToken();
    else start();
  } catch (err) {
    $("error").textContent = err.message;
  }
})();
