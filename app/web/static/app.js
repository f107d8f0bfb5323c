/* The page of `sinoloc serve`: send an image (or several, one after another) to
 * /api/locate/stream, show each event as it arrives, then the answer and its map; ask follow-up
 * questions on the thread; list the threads. No framework: the DOM and fetch. */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const state = { thread: null, base: null, prediction: null, photo: null, photos: {}, photoView: null };
  const basePromise = fetch("/api/map/base").then((r) => (r.ok ? r.json() : null)).then((b) => (state.base = b));

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function pct(p) { return (p * 100).toFixed(p >= 0.095 ? 0 : 1) + "%"; }
  function showError(message) {
    $("error").hidden = !message;
    $("error").textContent = message || "";
  }
  function setStatus(text) { $("status").textContent = text ? `· ${text}` : ""; }
  /* Questions need an answer to ask about: off before the first image, while one runs, after a refusal. */
  function setAsk(on) {
    $("question").disabled = $("ask-button").disabled = !on;
  }
  /* A new image starts from a clean slate: no answer, candidates, review or map of the last one. */
  function clearAnswer() {
    state.thread = null;
    state.prediction = null;
    $("answer").innerHTML = "";
    $("review").hidden = true;
    $("truth").hidden = true;
    $("truth-kept").textContent = "";
    setAsk(false);
    state.photoView = SinolocPhoto.draw($("photo"), null, null);
    basePromise.then(() => { if (!state.prediction) SinolocMap.draw($("map"), null, state.base); });
  }

  /* Evidence ids in a text (already escaped) as links that show the item on the photo and the map. */
  function evidenceLinks(html) {
    return html.replace(/\bE(\d{1,4})\b/g, '<a class="ev-link" data-ev="E$1">E$1</a>');
  }

  function addStep(e) {
    const li = document.createElement("li");
    li.className = e.kind + (e.kind === "verdict" && !String(e.text).startsWith("accepted") ? " rejected" : "");
    li.dataset.kind = e.kind;
    li.innerHTML = `<span class="k">${esc(e.kind.replace("_", " "))}</span><span class="t">${e.t != null ? e.t.toFixed(2) + " s" : ""}</span>${evidenceLinks(esc(e.text))}`;
    if (e.kind === "evidence") li.id = "step-" + e.data.id;
    $("timeline").appendChild(li);
    li.scrollIntoView({ block: "nearest" });
  }

  /* POST and read the server-sent events of the response; calls onEvent for each. */
  async function stream(url, init, onEvent) {
    const response = await fetch(url, init);
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
        if (data) onEvent(JSON.parse(data));
      }
    }
  }

  function onEvent(e) {
    if (e.kind === "thread") { state.thread = e.data.thread_id; state.photos[state.thread] = state.photo; return; }
    if (e.kind === "running") { setStatus("running"); return; }
    if (e.kind === "result") { $("review").hidden = true; showResult(e.data.prediction, e.data.map); return; }
    if (e.kind === "review") showReview(e.data);
    if (e.kind === "done") return;
    if (e.kind === "error") showError(e.text);
    addStep(e);
  }

  async function locate(file) {
    showError("");
    clearAnswer();
    $("timeline").innerHTML = "";
    addStep({ kind: "image", text: `${file.name} (${Math.round(file.size / 1024)} KB) sent`, t: 0 });
    state.photo = URL.createObjectURL(file);  // the boxes are drawn on the image the browser has
    setStatus("uploading");
    const form = new FormData();
    form.append("image", file, file.name);
    form.append("settings", JSON.stringify({ top_k: Number($("top_k").value) || 10, ignore_exif: $("ignore_exif").checked, review: $("review_on").checked, record: $("record_on").checked }));
    try {
      await stream("/api/locate/stream", { method: "POST", body: form }, onEvent);
      setStatus("done");
    } catch (err) {
      showError(err.message);
      setStatus("refused");
      if (!state.prediction) clearAnswer();  // nothing of an earlier image stays on screen
    }
    refreshThreads();
  }

  async function ask(question) {
    if (!state.thread) return;
    showError("");
    addStep({ kind: "question", text: question });
    setStatus("thinking");
    try {
      await stream(`/api/threads/${encodeURIComponent(state.thread)}/ask`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question }) }, onEvent);
      setStatus("done");
    } catch (err) { showError(err.message); }
    refreshThreads();  // its question count and last answer
  }

  /* Human review: the graph stopped before commit; the person approves, edits, rejects or adds a clue. */
  function showReview(r) {
    $("review").hidden = false;
    $("review-note").textContent = r.feedback || "Proposed answer: approve it, correct it, or add what you know before it is committed.";
    showResult(r.proposal, null);
    $("truth").hidden = true;
  }

  async function decide(decision) {
    if (!state.thread) return;
    showError("");
    $("review").hidden = true;
    addStep({ kind: "decision", text: decision.action + " " + (decision.place || decision.clue || decision.reason || "") });
    setStatus("running");
    try {
      await stream(`/api/threads/${encodeURIComponent(state.thread)}/review`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(decision) }, onEvent);
      setStatus("done");
    } catch (err) { showError(err.message); $("review").hidden = false; }
    refreshThreads();
  }

  async function keepTruth(place) {
    const r = await fetch(`/api/threads/${encodeURIComponent(state.thread)}/truth`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ place }) });
    const body = await r.json();
    if (!r.ok) { showError(body.error || "refused"); return; }
    $("truth-kept").textContent = `kept: ${body.truth} (${body.id})`;
  }

  function confidence(c) {
    return `<div class="conf">` + ["province", "city", "district"].map((k) =>
      `<span>${k}</span><span class="bar"><span style="width:${(c[k] * 100).toFixed(0)}%"></span></span><span>${pct(c[k])}</span>`).join("") + `</div>`;
  }

  /* Evidence items shown everywhere they appear: rows, steps, map markers, boxes on the photo. */
  function highlightEvidence(ids) { SinolocPhoto.showEvidence(ids, state.photoView); }

  async function showResult(p, mapData) {
    state.prediction = p;
    const guess = p.basis === "prior_only";
    const names = [p.province, p.city !== p.province ? p.city : null, p.district !== p.city ? p.district : null].filter(Boolean);
    const rows = p.candidates.map((c) => `<tr><td class="num">${c.rank}</td><td>${esc([c.province, c.city !== c.province ? c.city : null, c.district !== c.city ? c.district : null].filter(Boolean).join(""))}</td><td class="num">${pct(c.probability)}</td></tr>`).join("");
    const evidence = p.evidence.map((e) => `<tr id="ev-${esc(e.id)}"><td class="ev"><a class="ev-link" data-ev="${esc(e.id)}">${esc(e.id)}</a></td><td>${esc(e.kind)}</td><td>${esc(e.text)}</td><td>${esc(e.detail)}</td></tr>`).join("");
    $("answer").innerHTML =
      `<div class="place" id="answer-place">${esc(names.join(""))}</div>` +
      `<div>${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} (WGS-84) ±${p.precision_km.toFixed(1)} km · <span class="basis ${guess ? "guess" : ""}" id="basis">${guess ? "GUESS · prior only" : "basis: " + esc(p.basis)}</span></div>` +
      (guess ? `<div class="guess-note">No evidence located this image: the answer is where photos are most likely a priori, not a finding.</div>` : "") +
      confidence(p.confidence) +
      (p.warnings.length ? `<ul class="warnings">${p.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>` : "") +
      `<h2>Candidates</h2><table id="candidates"><tr><th>#</th><th>district</th><th>belief</th></tr>${rows}</table>` +
      `<h2>Evidence</h2><table id="evidence">${evidence || "<tr><td>(none)</td></tr>"}</table>` +
      (p.reasoning ? `<h2>Reasoning</h2><p>${evidenceLinks(esc(p.reasoning))}</p>` : "");
    setAsk(true);
    // the image this page sent, else the server's copy of the thread's photo (after a reload)
    const photo = state.photos[state.thread] || (state.thread ? `/api/threads/${encodeURIComponent(state.thread)}/photo` : null);
    state.photoView = SinolocPhoto.draw($("photo"), p.photo_marks, photo, { onEvidence: highlightEvidence });
    $("truth").hidden = !mapData;  // a committed answer (a proposal under review has no map yet)
    await basePromise;
    if (mapData) SinolocMap.draw($("map"), mapData, state.base, { onEvidence: highlightEvidence });
  }

  async function openThread(id) {
    const r = await fetch(`/api/threads/${encodeURIComponent(id)}`);
    if (!r.ok) { showError((await r.json()).error); return; }
    const t = await r.json();
    clearAnswer();
    state.thread = id;
    $("timeline").innerHTML = "";
    for (const entry of t.transcript) addStep({ kind: entry.kind === "question" ? "question" : entry.kind === "reply" ? "reply" : entry.kind === "answer" ? "answer" : "image", text: entry.text });
    if (t.prediction) showResult(t.prediction, t.map);
    refreshThreads();
  }

  async function refreshThreads() {
    const r = await fetch("/api/threads");
    if (!r.ok) return;
    const list = await r.json();
    $("threads").innerHTML = list.map((t) => `<li data-id="${esc(t.thread_id)}" class="${t.thread_id === state.thread ? "current" : ""}"><span class="tid">${esc(t.thread_id)}</span><br>${esc(t.first_image || "")} · ${t.images} image(s), ${t.questions} question(s)<br>${esc(t.last_answer || "")}</li>`).join("");
  }

  async function locateAll(files) {
    for (const file of files) await locate(file);  // one after another, each its own thread
  }

  const drop = $("drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => { ev.preventDefault(); drop.classList.remove("over"); locateAll([...ev.dataTransfer.files]); });
  drop.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") $("file").click(); });
  $("file").addEventListener("change", (ev) => { locateAll([...ev.target.files]); ev.target.value = ""; });
  $("ask").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("question").value.trim();
    if (q) { $("question").value = ""; ask(q); }
  });
  $("review-approve").addEventListener("click", () => decide({ action: "approve" }));
  for (const [form, input, action, field] of [["review-edit", "review-place", "edit", "place"],
    ["review-clue", "review-clue-text", "clue", "clue"], ["review-reject", "review-reason", "reject", "reason"]]) {
    $(form).addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = $(input).value.trim();
      if (text) { $(input).value = ""; decide({ action, [field]: text }); }
    });
  }
  $("truth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const place = $("truth-place").value.trim();
    if (place && state.thread) keepTruth(place);
  });
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest("a.ev-link");
    if (link) { ev.preventDefault(); highlightEvidence(link.dataset.ev); }
  });
  $("threads").addEventListener("click", (ev) => { const li = ev.target.closest("li"); if (li) openThread(li.dataset.id); });
  basePromise.then(() => { if (!state.prediction) SinolocMap.draw($("map"), null, state.base); });
  refreshThreads();
  // what this server offers (the eval runs viewer only with --runs): asked, never probed with a 404
  fetch("/api/config").then((r) => (r.ok ? r.json() : {})).then((c) => { $("runs-link").hidden = !c.runs; }).catch(() => {});
})();
