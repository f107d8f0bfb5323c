/* Evidence on the photo: the image with each OCR line's outline drawn where it was read
 * (agent prediction's photo_marks: polygons in fractions of the image; a panorama box across the
 * 0/360° seam has a copy one width over, clipped by the drawing), coloured by what the line
 * became — locating evidence, ignored text, or a flagged instruction — with a legend. Used by the
 * page of `sinoloc serve` and by the standalone --map file alike.
 *
 * draw(el, marks, src, options) returns { highlightEvidence(ids), highlightSpan(spanId) };
 * options.onEvidence(ids) is called with a box's evidence ids when one that produced evidence is
 * clicked. showEvidence(ids, view) highlights evidence items wherever a page shows them: their
 * rows (#ev-E1), steps (#step-E1), map markers (.evidence-E1) and boxes. */
(function (global) {
  "use strict";
  const LABELS = { evidence: "locating evidence", ignored: "ignored text", flagged: "flagged instruction" };
  const SVG = "http://www.w3.org/2000/svg";

  function legend(marks) {
    const counts = { evidence: 0, ignored: 0, flagged: 0 };
    for (const m of marks) counts[m.status] = (counts[m.status] || 0) + 1;
    return `<div class="photo-legend">` + Object.keys(LABELS).map((k) =>
      `<span class="photo-key ${k}"><i></i>${LABELS[k]} (${counts[k]})</span>`).join("") + `</div>`;
  }

  function polygonsOf(mark) {
    return mark.polygons.map((poly) => {
      const el = document.createElementNS(SVG, "polygon");
      el.setAttribute("points", poly.map(([x, y]) => `${x},${y}`).join(" "));
      el.setAttribute("vector-effect", "non-scaling-stroke");
      return el;
    });
  }

  function markGroup(mark, onClick) {
    const g = document.createElementNS(SVG, "g");
    g.setAttribute("class", `photo-mark ${mark.status}`);
    g.dataset.span = mark.span_id;
    g.dataset.evidence = mark.evidence_ids.join(" ");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${mark.span_id} «${mark.text}» — ${mark.reason}`;
    g.appendChild(title);
    for (const p of polygonsOf(mark)) g.appendChild(p);
    g.addEventListener("click", (ev) => { ev.stopPropagation(); onClick(mark); });
    return g;
  }

  function draw(el, data, src, options) {
    const opts = options || {};
    el.innerHTML = "";
    if (!src) { el.hidden = true; return { highlightEvidence() {}, highlightSpan() {} }; }
    el.hidden = false;
    const marks = (data && data.marks) || [];
    const note = !marks.length ? "no text was read in this image"
      : data.omitted ? `${data.omitted} more lines not drawn` : "";
    el.innerHTML = `<div class="photo-frame"><img class="photo-img" alt="the photo, with where its text was read"></div>` +
      legend(marks) + (note ? `<div class="photo-note">${note}</div>` : "");
    const frame = el.querySelector(".photo-frame"), img = el.querySelector(".photo-img");
    img.addEventListener("error", () => {  // a format the browser cannot show (HEIC): say so
      frame.hidden = true;
      el.insertAdjacentHTML("beforeend", `<div class="photo-note">the image cannot be shown here (this browser cannot show the image, or the server no longer keeps it); its lines are in the steps</div>`);
    });
    img.src = src;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "photo-boxes");
    svg.setAttribute("viewBox", "0 0 1 1");
    svg.setAttribute("preserveAspectRatio", "none");
    frame.appendChild(svg);

    function select(test) {
      let first = null;
      for (const g of svg.querySelectorAll(".photo-mark")) {
        const on = test(g);
        g.classList.toggle("hl", on);
        if (on && !first) first = g;
      }
      if (first) frame.scrollIntoView({ block: "nearest" });
      return first;
    }
    const api = {
      highlightEvidence: (ids) => select((g) => g.dataset.evidence.split(" ").some((i) => [].concat(ids).includes(i))),
      highlightSpan: (spanId) => select((g) => g.dataset.span === spanId),
    };
    // flagged and evidence drawn last, over the ignored lines they may overlap
    const order = { ignored: 0, flagged: 1, evidence: 2 };
    for (const mark of [...marks].sort((a, b) => order[a.status] - order[b.status])) {
      svg.appendChild(markGroup(mark, (m) => {
        api.highlightSpan(m.span_id);
        if (m.evidence_ids.length && opts.onEvidence) opts.onEvidence(m.evidence_ids);
      }));
    }
    return api;
  }

  function showEvidence(ids, view) {
    ids = [].concat(ids);
    document.querySelectorAll("tr.hl, li.hl, .evidence-point.hl").forEach((e) => e.classList.remove("hl"));
    for (const id of ids) {
      for (const el of [document.getElementById("ev-" + id), document.getElementById("step-" + id)]) {
        if (el) { el.classList.add("hl"); el.scrollIntoView({ block: "nearest" }); }
      }
      document.querySelectorAll(".evidence-" + CSS.escape(id)).forEach((m) => m.classList.add("hl"));
    }
    if (view) view.highlightEvidence(ids);
  }

  global.SinolocPhoto = { draw, showEvidence, LABELS };
})(window);
