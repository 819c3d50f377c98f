// The example page: loads the student served at ./model/ with distillrec/browser and recommends as you click.
/* global document, window, Option, performance */
import { loadStudent } from "./distillrec.js";

const $ = (id) => document.getElementById(id);
const list = (el, recs) => {
  el.replaceChildren(
    ...recs.ids.map((id, k) => {
      const li = document.createElement("li");
      li.textContent = `${id} (${recs.scores[k].toFixed(3)})`;
      return li;
    }),
  );
};

const history = [];

async function main() {
  const student = await loadStudent("./model/");
  const select = $("user");
  student.users.slice(0, 500).forEach((id, u) => select.add(new Option(id, String(u))));
  const showUser = () => list($("for-user"), student.recommend(Number(select.value), 10));
  select.addEventListener("change", showUser);
  showUser();

  const showHistory = () => {
    $("history").textContent = history.length ? history.map((i) => student.items[i]).join(", ") : "(empty)";
    list($("for-history"), student.recommendForHistory(history, 10));
  };
  const catalogue = $("catalogue");
  student.items.slice(0, 60).forEach((id, i) => {
    const b = document.createElement("button");
    b.className = "item";
    b.textContent = id;
    b.addEventListener("click", () => {
      history.push(i);
      showHistory();
      $("similar-to").textContent = id;
      list($("similar"), student.similarItems(i, 10));
    });
    catalogue.append(b);
  });
  $("clear").addEventListener("click", () => {
    history.length = 0;
    showHistory();
  });
  showHistory();

  const { stats } = student;
  $("status").textContent =
    `${student.manifest.kind}, dim ${student.manifest.dim}: ${student.numUsers} users, ${student.numItems} items; ` +
    `${stats.tableBytes + stats.manifestBytes} model bytes, ${stats.wasmBytes} kernel bytes`;

  // For tests and the report: the student, and the p50 latency of top-10 over the catalogue.
  window.demo = {
    student,
    p50(runs = 200) {
      const times = [];
      for (let r = 0; r < runs; r++) {
        const t = performance.now();
        student.recommend(r % student.numUsers, 10);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(runs / 2)];
    },
  };
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  $("status").textContent = `error: ${err.message}`;
  document.body.dataset.ready = "error";
  throw err;
});
