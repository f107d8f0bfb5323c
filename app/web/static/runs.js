/* The eval report viewer (app/web/runs.py, `sinoloc serve --runs DIR`): the runs, a run's
 * report as the server renders it, and its images; picking an image draws its answer's map and
 * lists its recorded steps. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let base = null;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function showError(text) {
    $("error").textContent = text;
    $("error").hidden = !text;
  }
  async function getJson(url) {
    const r = await fetch(url);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  async function openImage(run, row, tr) {
    document.querySelectorAll("#images tr.current").forEach((x) => x.classList.remove("current"));
    tr.classList.add("current");
    $("answer").textContent = `${row.id}: ${row.answer || "no answer"} — truth ${row.truth}`;
    showSteps(run, row);
    if (!row.map_url) { SinolocMap.draw($("map"), null, base); return; }
    try {
      SinolocMap.draw($("map"), await getJson(row.map_url), base);
    } catch (e) { showError(e.message); }
  }

  async function showSteps(run, row) {
    // the image's recorded timeline (the run's record/), a line per step as the chat prints it
    const list = $("steps");
    list.replaceChildren();
    try {
      const steps = await getJson(`/api/runs/${encodeURIComponent(run)}/images/${encodeURIComponent(row.id)}/steps`);
      steps.forEach((s) => list.append(el("li", s.text, `step ${s.kind}`)));
    } catch (e) { list.append(el("li", `no recorded steps: ${e.message}`, "muted")); }
  }

  function imagesTable(run, rows) {
    const table = $("images");
    table.replaceChildren();
    const head = el("tr");
    ["image", "id", "status", "truth", "answer", "basis", "error km"].forEach((h) => head.append(el("th", h)));
    table.append(head);
    rows.forEach((row) => {
      const tr = el("tr");
      const cell = el("td");
      if (row.image_url) {
        const img = el("img", null, "thumb");
        img.loading = "lazy";
        img.alt = row.id;
        img.src = row.image_url;
        img.onerror = () => img.replaceWith(el("span", "(unreadable)", "muted"));
        cell.append(img);
      } else cell.append(el("span", "–", "muted"));
      tr.append(cell, el("td", row.id), el("td", row.error ? `${row.status}: ${row.error}` : row.status),
        el("td", row.truth), el("td", row.answer || "–", row.basis === "prior_only" ? "guess" : ""),
        el("td", row.basis || "–"), el("td", row.error_km === null ? "–" : row.error_km.toFixed(1)));
      tr.onclick = () => openImage(run, row, tr);
      table.append(tr);
    });
  }

  async function openRun(name, li) {
    document.querySelectorAll("#runs li.current").forEach((x) => x.classList.remove("current"));
    if (li) li.classList.add("current");
    showError("");
    $("report").textContent = "writing the report…";
    try {
      const run = await getJson(`/api/runs/${encodeURIComponent(name)}`);
      if (run.report_html) $("report").innerHTML = run.report_html;  // escaped by the server
      else $("report").textContent = `no report: ${run.report_error}`;
      $("images-title").hidden = false;
      imagesTable(name, run.images);
      history.replaceState(null, "", `#${encodeURIComponent(name)}`);
    } catch (e) { $("report").textContent = ""; showError(e.message); }
  }

  async function start() {
    base = await getJson("/api/map/base").catch(() => null);
    SinolocMap.draw($("map"), null, base);
    let runs = [];
    try { runs = await getJson("/api/runs"); } catch (e) { showError(e.message); return; }
    const list = $("runs");
    if (!runs.length) list.append(el("li", "no runs in this folder", "muted"));
    const wanted = decodeURIComponent(location.hash.slice(1));
    runs.forEach((r) => {
      const li = el("li");
      li.append(el("strong", r.name), el("br"), el("span", `${r.system} · ${r.rows} rows · ${r.dataset}`, "muted"));
      li.onclick = () => openRun(r.name, li);
      list.append(li);
      if (r.name === wanted) openRun(r.name, li);
    });
  }
  start();
})();
