"""A self-contained HTML report of a refine run.

It shows the reference beside the best render after each round with that render's error list (the
list shrinks as rounds pass), a reward-per-round plot (best so far as a line, every candidate as a
dot in the colour its caption names, drawn as inline SVG so the report needs no plotting library), every
candidate in a table, and the best code. A round that did not change the best says so in one line.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from PIL import Image

from ..judges.verdict import SEVERITY_NAMES
from .loop import RefineResult
from .types import Candidate

THUMB_SIDE = 420


def _img_tag(png: bytes | None, alt: str) -> str:
    if not png:
        return f'<div class="norender">{html.escape(alt)}</div>'
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _thumb_png(img: Image.Image | bytes | None) -> bytes | None:
    if img is None:
        return None
    if isinstance(img, (bytes, bytearray)):
        img = Image.open(io.BytesIO(img))
        img.load()
    im = img.convert("RGB")
    if max(im.size) > THUMB_SIDE * 2:
        im = im.copy()
        im.thumbnail((THUMB_SIDE * 2, THUMB_SIDE * 2), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _errors_html(c: Candidate) -> str:
    if not c.render_ok:
        return f'<p class="bad">did not render: {html.escape(str(c.render_error or ""))}</p>'
    if c.verdict is None or not c.verdict.errors:
        return '<p class="good">no errors listed</p>'
    rows = []
    for e in c.verdict.sorted_errors():
        rows.append(f"<li><span class='sev s{e.severity}'>{SEVERITY_NAMES.get(e.severity, e.severity)}</span> "
                    f"<b>{html.escape(e.category)}</b> {html.escape(e.location)}: {html.escape(e.description)}</li>")
    return "<ul class='errs'>" + "".join(rows) + "</ul>"


#: Dot colour and caption per kind of candidate: the plot and its caption are made from this one table.
DOT_COLOURS: dict[str, tuple[str, str]] = {
    "accepted": ("#2ca02c", "accepted revision"),
    "initial": ("#9467bd", "initial candidate or draft (round 0)"),
    "rejected": ("#9e9e9e", "not accepted"),
    "norender": ("#d62728", "did not render"),
}
BEST_COLOUR = "#1f77b4"


def dot_kind(c: Candidate) -> str:
    """Which colour a candidate's dot gets (a key of :data:`DOT_COLOURS`)."""
    if not c.render_ok:
        return "norender"
    if c.round == 0:
        return "initial"
    return "accepted" if c.accepted else "rejected"


def plot_caption() -> str:
    """The caption under the plot, with a swatch in each dot's own colour."""
    swatch = "<span class='dotkey' style='background:{}'></span>"
    keys = [f"{swatch.format(colour)}{html.escape(text)}" for colour, text in DOT_COLOURS.values()]
    return (f"<p class='caption'>{swatch.format(BEST_COLOUR)}line and large dots: best so far; small dots: "
            f"every candidate: " + ", ".join(keys) + "</p>")


def reward_plot_svg(result: RefineResult, width: int = 520, height: int = 260) -> str:
    """Inline SVG: best-so-far reward per round (line) and every candidate's reward (dots)."""
    pad_l, pad_r, pad_t, pad_b = 48, 16, 16, 36
    n_rounds = max(1, len(result.rounds))
    xs = max(1, n_rounds - 1)
    rewards = [c.reward for c in result.candidates] + [r.best_reward for r in result.rounds]
    lo = min(0.0, min(rewards or [0.0]))
    hi = 1.0

    def px(r: float) -> float:
        return pad_l + (width - pad_l - pad_r) * (r / xs if n_rounds > 1 else 0.5)

    def py(v: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - (v - lo) / ((hi - lo) or 1.0))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        y = py(v)
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    for r in range(n_rounds):
        parts.append(f'<text x="{px(r):.1f}" y="{height - pad_b + 16}" text-anchor="middle">{r}</text>')
    parts.append(f'<text x="{(pad_l + width - pad_r) / 2:.1f}" y="{height - 4}" text-anchor="middle">round</text>')
    parts.append(f'<text x="12" y="{(pad_t + height - pad_b) / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(pad_t + height - pad_b) / 2:.1f})">reward</text>')
    for c in result.candidates:
        if c.round >= n_rounds:
            continue
        kind = dot_kind(c)
        parts.append(f'<circle class="dot {kind}" cx="{px(c.round):.1f}" cy="{py(c.reward):.1f}" r="3.5" '
                     f'fill="{DOT_COLOURS[kind][0]}"><title>{html.escape(c.id)}: {c.reward:.3f} '
                     f'({DOT_COLOURS[kind][1]})</title></circle>')
    pts = " ".join(f"{px(r.round):.1f},{py(r.best_reward):.1f}" for r in result.rounds)
    parts.append(f'<polyline points="{pts}" fill="none" stroke="{BEST_COLOUR}" stroke-width="2.5"/>')
    for r in result.rounds:
        parts.append(f'<circle class="best" cx="{px(r.round):.1f}" cy="{py(r.best_reward):.1f}" r="4.5" '
                     f'fill="{BEST_COLOUR}"/>')
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
.pair{display:flex;gap:16px;align-items:flex-start;margin:12px 0 24px 0;flex-wrap:wrap}
.pair figure{margin:0} .pair img{max-width:420px;max-height:420px;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}
.errs{font-size:13px;max-width:420px;padding-left:18px} .good{color:#2a7d2a} .bad{color:#b00}
.sev{display:inline-block;border-radius:3px;padding:0 4px;font-size:11px;color:#fff}
.s1{background:#8a8a8a}.s2{background:#e08a00}.s3{background:#c62828}
.norender{width:300px;height:200px;border:1px dashed #b00;color:#b00;display:flex;align-items:center;justify-content:center}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px;max-height:600px}
.kv td:first-child{color:#555}
.caption{font-size:12px;color:#555}
.dotkey{display:inline-block;width:10px;height:10px;border-radius:5px;margin:0 4px 0 8px;vertical-align:middle}
.unchanged{font-size:14px;color:#555;font-weight:normal}
"""


def build_report(result: RefineResult, reference: Image.Image, source: dict[str, Any] | None = None) -> str:
    by_id = result.candidates_by_id
    best = result.best
    ref_png = _thumb_png(reference)
    title = html.escape(str((source or {}).get("image", "reference")))
    h: list[str] = [f"<!doctype html><html><head><meta charset='utf-8'><title>erm refine: {title}</title>"
                    f"<style>{CSS}</style></head><body>",
                    f"<h1>erm refine — {title}</h1>",
                    "<table class='kv'>"]
    initial = result.initial
    facts = [("task / language", f"{result.task} / {result.kind}"), ("policy", result.policy),
             ("judge", f"{result.judge.get('name')} {result.judge.get('version')}"),
             ("reward", f"{initial.reward:.3f} (round 0 best) → <b>{best.reward:.3f}</b> "
                        f"({best.reward - initial.reward:+.3f})"),
             ("errors", f"{initial.n_errors} → <b>{best.n_errors}</b>"),
             ("stopped", html.escape(result.stop_reason)),
             ("spent", f"{len(result.candidates)} candidates, {len(result.rounds)} round(s), "
                       f"{result.tokens} tokens, {result.seconds:.1f} s")]
    h += [f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in facts]
    h.append("</table>")
    h.append("<h2>Reward per round</h2>")
    h.append(reward_plot_svg(result))
    h.append(plot_caption())
    h.append("<h2>Best render after each round</h2>")
    prev = None
    for r, bid in enumerate(result.best_per_round):
        c = by_id.get(bid)
        if c is None:
            continue
        if bid == prev:  # nothing new: one line, not the same pictures and error list again
            h.append(f"<h3 class='unchanged'>Round {r}: unchanged (best is still {html.escape(c.id)}, reward "
                     f"{c.reward:.3f})</h3>")
            continue
        prev = bid
        h.append(f"<h3>Round {r}: {html.escape(c.id)} — reward {c.reward:.3f}, {c.n_errors} error(s)</h3>")
        h.append("<div class='pair'>")
        h.append(f"<figure>{_img_tag(ref_png, 'reference')}<figcaption>reference</figcaption></figure>")
        h.append(f"<figure>{_img_tag(_thumb_png(c.png), 'no render')}<figcaption>{html.escape(c.id)} "
                 f"({html.escape(c.note)})</figcaption></figure>")
        h.append(f"<div>{_errors_html(c)}</div></div>")
    h.append("<h2>All candidates</h2><table><tr><th>id</th><th>parent</th><th>note</th><th>render</th>"
             "<th>reward</th><th>errors</th><th>accepted</th><th>tokens</th><th>seconds</th></tr>")
    for c in result.candidates:
        status = "ok" if c.render_ok else html.escape(str(c.render_error or "failed"))[:120]
        h.append(f"<tr><td>{c.id}</td><td>{c.parent or ''}</td><td>{html.escape(c.note)}</td><td>{status}</td>"
                 f"<td>{c.reward:.3f}</td><td>{c.n_errors}</td><td>{'yes' if c.accepted else 'no'}</td>"
                 f"<td>{c.tokens}</td><td>{c.seconds:.2f}</td></tr>")
    h.append("</table>")
    h.append(f"<h2>Best code ({html.escape(best.id)})</h2><pre>{html.escape(best.code)}</pre>")
    h.append("</body></html>")
    return "\n".join(h)
