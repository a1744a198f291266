"""The run viewer page: one self-contained ``index.html`` (the run's document embedded as JSON, plain
JavaScript, no network) that pages from the aggregate figures to the pairs, sorted worst first, and from a
pair to its reference, candidate, diff picture, verdict and gold errors. Images are links: relative to the
page when written beside a run, ``/f/N`` URLs when ``erm view`` serves it."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .model import INDEX_HTML

PATH_KEYS = ("reference", "candidate", "diff")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' data: file:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#24292f;color:#fff;padding:10px 18px}header h1{font-size:17px;margin:0}
header a{color:#9cd0ff}main{padding:14px 18px}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.pair-row:hover{background:#eef6ff;cursor:pointer}
.controls{margin:14px 0 8px}.controls label{margin-right:14px}
.bad{color:#b00020}.muted{color:#777}.sev3{color:#b00020;font-weight:600}.sev2{color:#c05000}
.images{display:flex;flex-wrap:wrap;gap:14px;margin:10px 0}
figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}figure img{max-width:560px;max-height:420px;display:block}
figure.wide img{max-width:100%;max-height:none}figcaption{font-weight:600;margin-bottom:4px}
pre{max-width:560px;max-height:420px;overflow:auto;background:#f6f8fa;border:1px solid #ddd;padding:6px;margin:0;font-size:12px}
.nav a{margin-right:14px}
</style></head>
<body>
<header><h1 id="title"></h1></header>
<main>
<section id="list-view">
<h2>Aggregate</h2><table id="aggregate"></table>
<div class="controls">
<label>sort <select id="sort"></select></label>
<label>task <select id="task"><option value="">all</option></select></label>
<label>filter <input id="filter" placeholder="id contains"></label>
<span id="count" class="muted"></span>
</div>
<table id="pairs"><thead><tr><th>#</th><th>id</th><th>task</th><th>reward</th><th>errors</th><th>gold</th>
<th>FP</th><th>FN</th><th>status</th></tr></thead><tbody></tbody></table>
</section>
<section id="pair-view" hidden>
<div class="nav"><a id="back" href="#">&larr; all pairs</a><a id="prev" href="#">&lsaquo; previous</a><a id="next" href="#">next &rsaquo;</a></div>
<h2 id="pair-title"></h2>
<p id="pair-info"></p>
<div class="images" id="images"></div>
<h3>Verdict</h3><div id="verdict-box"></div>
<h3 id="gold-head">Gold errors</h3><div id="gold-box"></div>
</section>
</main>
<script id="run-data" type="application/json">__DATA__</script>
<script>
"use strict";
const doc = JSON.parse(document.getElementById("run-data").textContent);
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
const fmt = (v) => (v === null || v === undefined) ? "\\u2013" : (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
document.title = doc.title; $("title").textContent = doc.title;
for (const [label, value] of doc.aggregate) { const tr = el("tr"); tr.append(el("th", label), el("td", fmt(value), "num")); $("aggregate").append(tr); }
for (const [key, label] of doc.sorts) { const o = el("option", label); o.value = key; $("sort").append(o); }
const tasks = [...new Set(doc.pairs.map(p => p.task).filter(Boolean))].sort();
for (const t of tasks) { const o = el("option", t); o.value = t; $("task").append(o); }
if (!doc.has_gold) { for (const th of document.querySelectorAll("#pairs th")) if (["gold","FP","FN"].includes(th.textContent)) th.hidden = true; }
const fmtR = (v) => (v === null || v === undefined) ? "\\u2013" : Number(v).toFixed(3);
const status = (p) => p.failure ? p.failure : (p.render_ok === false ? "did not render" : "judged");
const keyed = {
  fp: (a, b) => (b.fp - a.fp) || (b.fn - a.fn) || cmpReward(a, b),
  fn: (a, b) => (b.fn - a.fn) || (b.fp - a.fp) || cmpReward(a, b),
  reward: (a, b) => cmpReward(a, b),
  errors: (a, b) => (b.errors.length - a.errors.length) || cmpReward(a, b),
  id: (a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
};
function cmpReward(a, b) { const ra = a.reward === null ? -1 : a.reward, rb = b.reward === null ? -1 : b.reward; return (ra - rb) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0); }
let order = [];
function listed() {
  const f = $("filter").value.toLowerCase(), t = $("task").value;
  return doc.pairs.filter(p => (!t || p.task === t) && (!f || p.id.toLowerCase().includes(f))).sort(keyed[$("sort").value] || keyed.id);
}
function drawList() {
  order = listed();
  const body = document.querySelector("#pairs tbody"); body.replaceChildren();
  order.forEach((p, i) => {
    const tr = el("tr", undefined, "pair-row"); tr.dataset.id = p.id;
    const a = el("a", p.id, "pair-link"); a.href = "#pair=" + encodeURIComponent(p.id);
    const idCell = el("td"); idCell.append(a);
    const cells = [el("td", i + 1, "num"), idCell, el("td", p.task), el("td", fmtR(p.reward), "num"), el("td", p.errors.length, "num")];
    if (doc.has_gold) cells.push(el("td", p.gold ? p.gold.length : "\\u2013", "num"), el("td", p.fp_n ? p.fp_n + " (sev " + p.fp + ")" : "0", "num"), el("td", p.fn_n ? p.fn_n + " (sev " + p.fn + ")" : "0", "num"));
    cells.push(el("td", status(p), p.failure || p.render_ok === false ? "bad" : "muted"));
    tr.append(...cells);
    tr.addEventListener("click", (ev) => { if (ev.target.tagName !== "A") location.hash = "pair=" + encodeURIComponent(p.id); });
    body.append(tr);
  });
  $("count").textContent = order.length + " of " + doc.pairs.length + " pairs";
}
function errorTable(rows, withMatch, id) {
  if (!rows || !rows.length) return el("p", withMatch === "gold" ? "no gold errors (an equivalent pair)" : "no errors", "muted");
  const t = el("table"); t.id = id;
  const head = el("tr"); for (const h of ["#", "category", "severity", "location", "description"].concat(withMatch ? ["matched"] : [])) head.append(el("th", h));
  t.append(head);
  rows.forEach((e, i) => {
    const tr = el("tr");
    tr.append(el("td", i + 1, "num"), el("td", e.category), el("td", e.severity, "sev" + e.severity), el("td", e.location), el("td", e.description));
    if (withMatch) tr.append(el("td", e.matched === undefined ? "\\u2013" : (e.matched ? "yes" : (withMatch === "gold" ? "missed (FN)" : "unmatched (FP)")), e.matched === false ? "bad" : ""));
    t.append(tr);
  });
  return t;
}
function figure(caption, url, wide, fallback) {
  const f = el("figure", undefined, wide ? "wide" : ""); f.append(el("figcaption", caption));
  if (url) { const img = el("img"); img.src = url; img.alt = caption; f.append(img); }
  else f.append(fallback || el("p", "none", "muted"));
  return f;
}
function drawPair(id) {
  const p = doc.pairs.find(x => x.id === id);
  if (!p) { drawListView(); return; }
  if (!order.length) order = listed();
  $("list-view").hidden = true; $("pair-view").hidden = false;
  $("pair-title").textContent = p.id;
  const bits = ["task " + (p.task || "?"), "judge " + (p.judge || "?"), "reward " + fmtR(p.reward), status(p)];
  if (doc.has_gold) bits.push("false positives " + p.fp_n + ", false negatives " + p.fn_n);
  if (p.note) bits.push(p.note);
  $("pair-info").textContent = bits.join(" \\u00b7 ");
  const imgs = $("images"); imgs.replaceChildren();
  imgs.append(figure("reference", p.reference));
  const code = p.candidate_code ? el("pre", p.candidate_code) : null;
  imgs.append(figure(p.candidate ? "candidate" : "candidate (code)", p.candidate, false, code));
  const noDiff = el("p", p.render_ok === false || p.failure ? "no picture: the candidate was not judged" : "no diff picture (run with --diff-image DIR, or open it with erm view RUN_DIR)", "muted");
  imgs.append(figure("differences", p.diff, true, noDiff));
  $("verdict-box").replaceChildren(errorTable(p.errors, doc.has_gold ? "pred" : null, "verdict"));
  $("gold-head").hidden = !doc.has_gold; $("gold-box").hidden = !doc.has_gold;
  if (doc.has_gold) $("gold-box").replaceChildren(errorTable(p.gold, "gold", "gold"));
  const i = order.findIndex(x => x.id === id);
  $("prev").href = i > 0 ? "#pair=" + encodeURIComponent(order[i - 1].id) : "#";
  $("next").href = i >= 0 && i + 1 < order.length ? "#pair=" + encodeURIComponent(order[i + 1].id) : "#";
  window.scrollTo(0, 0);
}
function drawListView() { $("pair-view").hidden = true; $("list-view").hidden = false; drawList(); }
function route() {
  const m = location.hash.match(/^#pair=(.*)$/);
  if (m) drawPair(decodeURIComponent(m[1])); else drawListView();
}
for (const id of ["sort", "task"]) $(id).addEventListener("change", drawList);
$("filter").addEventListener("input", drawList);
window.addEventListener("hashchange", route);
route();
</script>
</body></html>
"""


def page(doc: dict[str, Any], url_of: Callable[[str], str | None]) -> str:
    """The page for ``doc``, its file paths turned into URLs by ``url_of`` (``None``: not shown)."""
    shown = copy.deepcopy(doc)
    for pair in shown["pairs"]:
        for key in PATH_KEYS:
            if pair.get(key):
                pair[key] = url_of(pair[key])
        pair.pop("candidate_path", None)
        pair.pop("verdict", None)
        pair.pop("stem", None)
    shown.pop("run_dir", None)
    shown.pop("diff_dir", None)
    data = json.dumps(shown, ensure_ascii=False, default=str)
    # inside <script>: no "</" (a "</script>" in an id or a description must not end the element)
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    title = (str(doc.get("title", "erm run")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    before, after = _PAGE.split("__DATA__")
    return before.replace("__TITLE__", title) + data + after


def relative_url(page_dir: Path) -> Callable[[str], str | None]:
    """Links relative to ``page_dir`` (the static page works from the folder, or the folder moved with
    its data beside it)."""
    from urllib.parse import quote

    def url_of(path: str) -> str | None:
        try:
            rel = os.path.relpath(path, page_dir)
        except ValueError:  # another drive
            return None
        return quote(rel.replace(os.sep, "/"))

    return url_of


def write_index(run_dir: Path, doc: dict[str, Any]) -> Path:
    """``run_dir/index.html`` for ``doc`` (and ``view.json`` beside it, for ``erm view``)."""
    from .model import save_document

    save_document(run_dir, doc)
    path = run_dir / INDEX_HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page(doc, relative_url(run_dir)), encoding="utf-8")
    tmp.replace(path)
    return path
