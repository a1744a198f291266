"""The difference map of two aligned images and its connected regions of real difference.

Anti-aliasing and resampling noise are ignored in three ways: both images are slightly blurred, a pixel
only differs when no pixel within ``radius`` of it in the other image matches (both directions), and a
region must contain enough strongly differing pixels (hysteresis: seeds above ``strong``, extent above
``weak``).

Each region is then characterised: does the *ink* (non-background paint) differ, or only its colour?
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage as ndi

from .colour import delta_e_rgb, hex_of
from .morphology import close_, count_in_labels, dilate

BBox = tuple[int, int, int, int]


@dataclass
class Region:
    """A connected area where the two aligned images really differ (working-frame pixels)."""

    bbox: BBox  # x0, y0, x1, y1 (exclusive)
    pixels: int  # differing pixels in it
    mask: np.ndarray = field(repr=False)  # bool, the bbox-sized crop of the difference mask
    ref_ink: float = 0.0  # ink pixels of the reference inside the region's difference mask
    cand_ink: float = 0.0
    ink_iou: float = 0.0  # overlap of the two ink masks inside the region (1 = same shapes)
    ref_colour: tuple[int, int, int] | None = None  # dominant ink colour inside the region
    cand_colour: tuple[int, int, int] | None = None
    colour_delta_e: float = 0.0

    @property
    def area(self) -> int:
        return (self.bbox[2] - self.bbox[0]) * (self.bbox[3] - self.bbox[1])

    def share_on(self, mask: np.ndarray) -> float:
        """The share of this region's differing pixels that lie on ``mask`` (a full-frame boolean map)."""
        x0, y0, x1, y1 = (int(v) for v in self.bbox)
        crop = mask[y0:y1, x0:x1]
        n = int(np.count_nonzero(self.mask))
        if not n or crop.shape != self.mask.shape:
            return 0.0
        return float(np.count_nonzero(crop & self.mask)) / n

    @property
    def colour_only(self) -> bool:
        """Same shapes, different paint: a style (colour) difference rather than geometry."""
        return self.ink_iou >= 0.75 and self.colour_delta_e >= 5.0

    @property
    def kind(self) -> str:
        """``missing`` (ink only in the reference), ``extra`` (only in the candidate), ``changed``, ``recoloured``."""
        if self.colour_only:
            return "recoloured"
        if self.cand_ink < 0.25 * self.ref_ink:
            return "missing"
        if self.ref_ink < 0.25 * self.cand_ink:
            return "extra"
        return "changed"

    def to_dict(self) -> dict:
        d = {"bbox": list(self.bbox), "pixels": self.pixels, "kind": self.kind, "ink_iou": round(self.ink_iou, 3)}
        if self.ref_colour is not None:
            d["ref_colour"] = hex_of(self.ref_colour)
        if self.cand_colour is not None:
            d["cand_colour"] = hex_of(self.cand_colour)
        return d


def _planes(arr: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) int16, contiguous (fast per-plane arithmetic)."""
    return np.ascontiguousarray(np.moveaxis(arr, 2, 0)).astype(np.int16)


def tolerant_difference(a: np.ndarray, b: np.ndarray, radius: int = 1) -> np.ndarray:
    """Per pixel of ``a``: min over ``b``'s pixels within ``radius`` of the max-channel absolute difference."""
    pa, pb = _planes(a), _planes(b)
    _, h, w = pa.shape
    pb = np.pad(pb, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    best = None
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            sb = pb[:, radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            d = np.abs(pa[0] - sb[0])
            np.maximum(d, np.abs(pa[1] - sb[1]), out=d)
            np.maximum(d, np.abs(pa[2] - sb[2]), out=d)
            if best is None:
                best = d
            else:
                np.minimum(best, d, out=best)
    assert best is not None
    return best


def _min_max3(p: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel min and max over a (2r+1)^2 window of a uint8 plane (separable, shifted slices)."""
    lo = p.copy()
    hi = p.copy()
    for _ in range(radius):
        for arr, op in ((lo, np.minimum), (hi, np.maximum)):
            op(arr[1:], arr[:-1].copy(), out=arr[1:])
            op(arr[:-1], arr[1:].copy(), out=arr[:-1])
            op(arr[:, 1:], arr[:, :-1].copy(), out=arr[:, 1:])
            op(arr[:, :-1], arr[:, 1:].copy(), out=arr[:, :-1])
    return lo, hi


def envelope_difference(a: np.ndarray, b: np.ndarray, radius: int = 1) -> np.ndarray:
    """Per pixel of ``a``: how far (max over channels) it lies outside the per-channel [min, max] of ``b``'s
    pixels within ``radius``. A pixel that is a blend of its neighbours (anti-aliasing, a sub-pixel shift)
    lies inside that envelope and counts as equal."""
    out = np.zeros(a.shape[:2], np.uint8)
    for c in range(3):
        lo, hi = _min_max3(np.ascontiguousarray(b[..., c]), radius)
        ac = np.ascontiguousarray(a[..., c])
        below = np.maximum(lo, ac) - ac  # lo - ac where ac < lo, else 0 (no uint8 overflow)
        above = ac - np.minimum(ac, hi)
        np.maximum(out, below, out=out)
        np.maximum(out, above, out=out)
    return out


def _channel_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel max over channels of |a - b| (int16, as :func:`tolerant_difference` with radius 0 gives), in
    PIL's uint8 loops."""
    from PIL import ImageChops

    ia = Image.fromarray(np.ascontiguousarray(a, dtype=np.uint8), "RGB")
    ib = Image.fromarray(np.ascontiguousarray(b, dtype=np.uint8), "RGB")
    r, g, bl = ImageChops.difference(ia, ib).split()
    return np.asarray(ImageChops.lighter(ImageChops.lighter(r, g), bl)).astype(np.int16)


def difference_map(ref: np.ndarray, cand: np.ndarray, *, blur: float = 1.2, radius: int = 1,
                   method: str = "envelope") -> np.ndarray:
    """Symmetric, noise-tolerant difference (0-255) of two aligned images."""
    if blur > 0:
        ref = np.asarray(Image.fromarray(ref).filter(ImageFilter.GaussianBlur(blur)))
        cand = np.asarray(Image.fromarray(cand).filter(ImageFilter.GaussianBlur(blur)))
    if method != "envelope" and radius == 0 and ref.shape == cand.shape and ref.ndim == 3 and ref.shape[2] == 3:
        return _channel_difference(ref, cand)  # symmetric already: one pass instead of two
    fn = envelope_difference if method == "envelope" else tolerant_difference
    return np.maximum(fn(ref, cand, radius), fn(cand, ref, radius))


def ink_mask(arr: np.ndarray, background: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    """Pixels painted with something other than the background."""
    from .colour import channel_distance

    return channel_distance(arr, background) > tol


def find_regions(diff: np.ndarray, *, strong: int = 60, weak: int = 28, min_pixels: int | None = None,
                 join: int = 2) -> list[tuple[BBox, np.ndarray, int]]:
    """Connected regions of ``diff``: extent above ``weak``, at least ``min_pixels`` pixels above ``strong``.

    Nearby pieces (within ``join`` pixels) form one region. Returns (bbox, bbox-sized mask, strong count).
    """
    h, w = diff.shape
    if min_pixels is None:
        min_pixels = max(6, int(round(h * w * 2.5e-5)))
    weak_mask = diff > weak
    strong_mask = diff > strong
    if not strong_mask.any():
        return []
    grown = dilate(weak_mask, iterations=join) if join else weak_mask
    labels, n = ndi.label(grown)
    if n == 0:
        return []
    strong_counts = count_in_labels(strong_mask, labels, n)
    out = []
    kept = np.zeros(n + 1, bool)
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None or strong_counts[i] < min_pixels:
            continue
        kept[i + 1] = True
        m = (labels[sl] == i + 1) & weak_mask[sl]
        bbox = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
        out.append((bbox, m, int(strong_counts[i])))
    # second pass: many small pieces close together (a dashed line, scattered dots) form one region
    leftover = strong_mask & ~kept[labels]
    if leftover.sum() >= 3 * min_pixels:
        wide, m2 = ndi.label(dilate(leftover, iterations=max(3, 3 * join)))
        counts2 = count_in_labels(leftover, wide, m2)
        for i, sl in enumerate(ndi.find_objects(wide)):
            if sl is None or counts2[i] < 3 * min_pixels:
                continue
            m = (wide[sl] == i + 1) & weak_mask[sl] & ~kept[labels[sl]]
            bbox = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
            out.append((bbox, m, int(counts2[i])))
    return out


def _dominant_colour(arr: np.ndarray, mask: np.ndarray) -> tuple[int, int, int] | None:
    px = arr[mask]
    if px.shape[0] == 0:
        return None
    q = (px.astype(np.int32) >> 4)
    keys = (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]
    vals, counts = np.unique(keys, return_counts=True)
    top = vals[np.argmax(counts)]
    sel = px[keys == top]
    return tuple(int(v) for v in np.median(sel, axis=0))  # type: ignore[return-value]


def characterise(ref: np.ndarray, cand: np.ndarray, ref_bg: tuple[int, int, int], cand_bg: tuple[int, int, int],
                 raw: list[tuple[BBox, np.ndarray, int]], ref_ink_full: np.ndarray | None = None,
                 cand_ink_full: np.ndarray | None = None) -> list[Region]:
    """Ink overlap and dominant colours of each raw region."""
    ri = ref_ink_full if ref_ink_full is not None else ink_mask(ref, ref_bg)
    ci = cand_ink_full if cand_ink_full is not None else ink_mask(cand, cand_bg)
    regions = []
    for bbox, m, strong in raw:
        x0, y0, x1, y1 = bbox
        r_ink = ri[y0:y1, x0:x1] & m
        c_ink = ci[y0:y1, x0:x1] & m
        # shapes within one pixel of each other count as the same
        r_d = dilate(r_ink) if r_ink.any() else r_ink
        c_d = dilate(c_ink) if c_ink.any() else c_ink
        inter = float((r_ink & c_d).sum() + (c_ink & r_d).sum()) / 2
        union = float(r_ink.sum() + c_ink.sum()) - inter
        iou = inter / union if union > 0 else 0.0  # no ink on either side: a faint shading difference
        rc = _dominant_colour(ref[y0:y1, x0:x1], r_ink)
        cc = _dominant_colour(cand[y0:y1, x0:x1], c_ink)
        de = delta_e_rgb(rc, cc) if rc is not None and cc is not None else 0.0
        regions.append(Region(bbox=bbox, pixels=strong, mask=m, ref_ink=float(r_ink.sum()),
                              cand_ink=float(c_ink.sum()), ink_iou=iou, ref_colour=rc, cand_colour=cc,
                              colour_delta_e=de))
    return regions


def faint_areas(diff: np.ndarray, regions: list[Region], *, level: int = 22, min_share: float = 0.02) -> list[BBox]:
    """Large areas of moderate difference that no region covers (a gradient or shading that changed)."""
    h, w = diff.shape
    mask = diff > level
    for r in regions:
        x0, y0, x1, y1 = r.bbox
        mask[y0:y1, x0:x1] = False
    if mask.sum() < min_share * h * w:
        return []
    small = mask[::4, ::4]
    grown = close_(small, iterations=2)
    labels, n = ndi.label(grown)
    out = []
    for i, sl in enumerate(ndi.find_objects(labels)):
        if sl is None:
            continue
        count = int((small[sl] & (labels[sl] == i + 1)).sum()) * 16
        if count >= min_share * h * w:
            out.append((sl[1].start * 4, sl[0].start * 4, min(w, sl[1].stop * 4), min(h, sl[0].stop * 4)))
    return out


def diff_regions(ref: np.ndarray, cand: np.ndarray, ref_bg: tuple[int, int, int], cand_bg: tuple[int, int, int],
                 *, blur: float = 1.2, radius: int = 1, strong: int = 60, weak: int = 28) -> tuple[np.ndarray, list[Region]]:
    """The difference map and its characterised regions, largest first."""
    diff = difference_map(ref, cand, blur=blur, radius=radius)
    raw = find_regions(diff, strong=strong, weak=weak)
    regions = characterise(ref, cand, ref_bg, cand_bg, raw)
    regions.sort(key=lambda r: -r.pixels)
    return diff, regions
