"""Just enough SVG geometry for gold labels: transforms, path sampling and element bounding boxes.

Bounding boxes tell a perturbation where its change lands (the labelled region) and how large the
changed part is (severity). Paths are sampled (Béziers and elliptical arcs included), so boxes are
tight rather than control-point hulls.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

Matrix = tuple[
    float, float, float, float, float, float
]  # a b c d e f: x' = a x + c y + e, y' = b x + d y + f
Box = tuple[float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUM_RE = re.compile(_NUM)
_TRANSFORM_RE = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*+\(([^()]*+)\)")  # linear


def multiply(m: Matrix, n: Matrix) -> Matrix:
    """m · n (apply n first, then m)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def parse_transform(text: str | None) -> Matrix:
    m = IDENTITY
    if not text:
        return m
    for name, args in _TRANSFORM_RE.findall(text):
        v = [float(x) for x in _NUM_RE.findall(args)]
        if name == "matrix" and len(v) == 6:
            t = tuple(v)  # type: ignore[assignment]
        elif name == "translate" and v:
            t = (1, 0, 0, 1, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale" and v:
            t = (v[0], 0, 0, v[1] if len(v) > 1 else v[0], 0, 0)
        elif name == "rotate" and v:
            r = math.radians(v[0])
            cos, sin = math.cos(r), math.sin(r)
            t = (cos, sin, -sin, cos, 0, 0)
            if len(v) >= 3:
                cx, cy = v[1], v[2]
                t = multiply(multiply((1, 0, 0, 1, cx, cy), t), (1, 0, 0, 1, -cx, -cy))
        elif name == "skewX" and v:
            t = (1, 0, math.tan(math.radians(v[0])), 1, 0, 0)
        elif name == "skewY" and v:
            t = (1, math.tan(math.radians(v[0])), 0, 1, 0, 0)
        else:
            continue
        m = multiply(m, t)  # type: ignore[arg-type]
    return m


# ------------------------------------------------------------------------------- path data

_PARAMS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


def path_tokens(d: str) -> list[tuple[str, int, int, str, int]]:
    """Numbers of a path with their spans: (text, start, end, command, parameter index).

    A close-path command appears as ("", start, end, "Z" or "z", -1). Arc flags are read as single
    characters, so compact paths like ``a1 1 0 011 1`` parse correctly.
    """
    out: list[tuple[str, int, int, str, int]] = []
    i, n = 0, len(d)
    cmd, k = "", 0
    while i < n:
        ch = d[i]
        if ch.isalpha():
            if ch.upper() not in _PARAMS:
                raise ValueError(f"bad path command {ch!r}")
            cmd, k = ch, 0
            if ch in "Zz":
                out.append(("", i, i + 1, ch, -1))
            i += 1
            continue
        if ch in " ,\t\r\n":
            i += 1
            continue
        if not cmd or cmd in "Zz":
            raise ValueError("numbers without a command")
        nparams = _PARAMS[cmd.upper()]
        idx = k % nparams
        if cmd.upper() == "A" and idx in (3, 4):
            if ch not in "01":
                raise ValueError("bad arc flag")
            out.append((ch, i, i + 1, cmd, idx))
            i += 1
        else:
            m = _NUM_RE.match(d, i)
            if not m:
                raise ValueError(f"bad path data near {d[i : i + 10]!r}")
            out.append((m.group(0), m.start(), m.end(), cmd, idx))
            i = m.end()
        k += 1
        if cmd in "Mm" and k == 2:
            cmd, k = ("L" if cmd == "M" else "l"), 0
    return out


def path_commands(d: str) -> list[tuple[str, list[float]]]:
    """The path as (command, numbers) invocations, implicit repeats split out."""
    out: list[tuple[str, list[float]]] = []
    for text, _, _, cmd, idx in path_tokens(d):
        if idx == -1:
            out.append((cmd, []))
            continue
        if idx == 0:
            out.append((cmd, []))
        out[-1][1].append(float(text))
    return [(c, v) for c, v in out if c in "Zz" or len(v) == _PARAMS[c.upper()]]


def _arc_points(
    x0: float,
    y0: float,
    rx: float,
    ry: float,
    phi_deg: float,
    large: bool,
    sweep: bool,
    x1: float,
    y1: float,
    steps: int = 12,
) -> list[tuple[float, float]]:
    if rx == 0 or ry == 0 or (x0 == x1 and y0 == y1):
        return [(x1, y1)]
    rx, ry = abs(rx), abs(ry)
    phi = math.radians(phi_deg)
    cos, sin = math.cos(phi), math.sin(phi)
    dx, dy = (x0 - x1) / 2, (y0 - y1) / 2
    x1p, y1p = cos * dx + sin * dy, -sin * dx + cos * dy
    lam = (x1p**2) / (rx**2) + (y1p**2) / (ry**2)
    if lam > 1:
        s = math.sqrt(lam)
        rx, ry = rx * s, ry * s
    num = rx**2 * ry**2 - rx**2 * y1p**2 - ry**2 * x1p**2
    den = rx**2 * y1p**2 + ry**2 * x1p**2
    coef = math.sqrt(max(0.0, num / den)) if den else 0.0
    if large == sweep:
        coef = -coef
    cxp, cyp = coef * rx * y1p / ry, -coef * ry * x1p / rx
    cx = cos * cxp - sin * cyp + (x0 + x1) / 2
    cy = sin * cxp + cos * cyp + (y0 + y1) / 2

    def angle(ux: float, uy: float, vx: float, vy: float) -> float:
        a = math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)
        return a

    t1 = angle(1, 0, (x1p - cxp) / rx, (y1p - cyp) / ry)
    dt = angle((x1p - cxp) / rx, (y1p - cyp) / ry, (-x1p - cxp) / rx, (-y1p - cyp) / ry)
    if not sweep and dt > 0:
        dt -= 2 * math.pi
    elif sweep and dt < 0:
        dt += 2 * math.pi
    pts = []
    for j in range(1, steps + 1):
        t = t1 + dt * j / steps
        px, py = rx * math.cos(t), ry * math.sin(t)
        pts.append((cos * px - sin * py + cx, sin * px + cos * py + cy))
    return pts


def path_points(d: str, steps: int = 8) -> list[tuple[float, float]]:
    """Points sampled along a path (absolute coordinates)."""
    pts: list[tuple[float, float]] = []
    x = y = sx = sy = 0.0
    last_ctrl: tuple[float, float] | None = None
    last_cmd = ""
    for cmd, v in path_commands(d):
        if cmd in "Zz":
            x, y = sx, sy
            pts.append((x, y))
            last_cmd = "Z"
            continue
        rel = cmd.islower()
        c = cmd.upper()
        ox, oy = (x, y) if rel else (0.0, 0.0)
        if c == "M":
            x, y = ox + v[0], oy + v[1]
            sx, sy = x, y
            pts.append((x, y))
        elif c == "L":
            x, y = ox + v[0], oy + v[1]
            pts.append((x, y))
        elif c == "H":
            x = (x if rel else 0.0) + v[0]
            pts.append((x, y))
        elif c == "V":
            y = (y if rel else 0.0) + v[0]
            pts.append((x, y))
        elif c in ("C", "S", "Q", "T"):
            if c == "C":
                c1, c2, end = (ox + v[0], oy + v[1]), (ox + v[2], oy + v[3]), (ox + v[4], oy + v[5])
                ctrl = c2
            elif c == "S":
                c1 = (
                    (2 * x - last_ctrl[0], 2 * y - last_ctrl[1]) if last_ctrl and last_cmd in "CS" else (x, y)
                )
                c2, end = (ox + v[0], oy + v[1]), (ox + v[2], oy + v[3])
                ctrl = c2
            else:
                if c == "Q":
                    q, end = (ox + v[0], oy + v[1]), (ox + v[2], oy + v[3])
                else:
                    q = (
                        (2 * x - last_ctrl[0], 2 * y - last_ctrl[1])
                        if last_ctrl and last_cmd in "QT"
                        else (x, y)
                    )
                    end = (ox + v[0], oy + v[1])
                c1 = (x + 2 / 3 * (q[0] - x), y + 2 / 3 * (q[1] - y))
                c2 = (end[0] + 2 / 3 * (q[0] - end[0]), end[1] + 2 / 3 * (q[1] - end[1]))
                ctrl = q
            for j in range(1, steps + 1):
                t = j / steps
                mt = 1 - t
                px = mt**3 * x + 3 * mt**2 * t * c1[0] + 3 * mt * t**2 * c2[0] + t**3 * end[0]
                py = mt**3 * y + 3 * mt**2 * t * c1[1] + 3 * mt * t**2 * c2[1] + t**3 * end[1]
                pts.append((px, py))
            last_ctrl = ctrl
            x, y = end
        elif c == "A":
            end = (ox + v[5], oy + v[6])
            pts += _arc_points(x, y, v[0], v[1], v[2], bool(v[3]), bool(v[4]), end[0], end[1])
            x, y = end
        last_cmd = c
    return pts


# ------------------------------------------------------------------------------- element boxes

SHAPE_TAGS = ("path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text")


def local_name(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _f(el: ET.Element, name: str, default: float = 0.0) -> float:
    v = el.get(name)
    if v is None:
        return default
    m = _NUM_RE.match(v.strip())
    return float(m.group(0)) if m else default


def local_points(el: ET.Element) -> list[tuple[float, float]]:
    """Sample points of one shape in its own user space (empty for non-shapes)."""
    tag = local_name(el)
    if tag == "path":
        try:
            return path_points(el.get("d", ""))
        except (ValueError, AssertionError, IndexError):
            return []
    if tag == "rect":
        x, y, w, h = _f(el, "x"), _f(el, "y"), _f(el, "width"), _f(el, "height")
        return [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    if tag in ("circle", "ellipse"):
        cx, cy = _f(el, "cx"), _f(el, "cy")
        rx = _f(el, "r") if tag == "circle" else _f(el, "rx")
        ry = _f(el, "r") if tag == "circle" else _f(el, "ry")
        return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in [k * math.pi / 8 for k in range(16)]]
    if tag == "line":
        return [(_f(el, "x1"), _f(el, "y1")), (_f(el, "x2"), _f(el, "y2"))]
    if tag in ("polyline", "polygon"):
        v = [float(x) for x in _NUM_RE.findall(el.get("points", ""))]
        return list(zip(v[0::2], v[1::2]))
    if tag == "text":
        x, y = _f(el, "x"), _f(el, "y")
        size = _f(el, "font-size", 16.0)
        text = "".join(el.itertext())
        bold = el.get("font-weight", "normal") in ("bold", "bolder", "600", "700", "800", "900")
        w = (0.8 if bold else 0.72) * size * max(1, len(text))
        anchor = el.get("text-anchor", "start")
        x0 = x - w / 2 if anchor == "middle" else (x - w if anchor == "end" else x)
        return [(x0, y - size * 1.0), (x0 + w, y + size * 0.35)]
    return []


def box_of(points: list[tuple[float, float]]) -> Box | None:
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def union(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def area(b: Box | None) -> float:
    return 0.0 if b is None else max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def intersection(a: Box | None, b: Box | None) -> float:
    if a is None or b is None:
        return 0.0
    return (
        area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
        if (min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]))
        else 0.0
    )
