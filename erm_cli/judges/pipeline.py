"""The one path from (reference, candidate) to a Verdict, used by every verb.

``score_candidate`` accepts a candidate as an image (path, bytes, PIL) or as code (a path to a code
file, or a string such as a model's chat completion with fenced blocks). Code is extracted,
rendered through :mod:`erm_cli.renderers` (sandboxed, cached) and judged; a render failure or a
blank render yields a verdict with ``render_ok=False`` (reward 0), never an exception.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import InputError
from ..imageio import load_image
from .base import Judge
from .verdict import TASKS, Verdict

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def resolve_judge(judge: Judge | str, **options: Any) -> Judge:
    if isinstance(judge, str):
        from . import get_judge

        return get_judge(judge, **options)
    return judge


def is_blank(img: Image.Image, tolerance: int = 2) -> bool:
    """True when every pixel is (near) one colour: the released reward code scores such renders 0."""
    lo, hi = img.convert("L").getextrema()
    return (hi - lo) <= tolerance


def blank_render(cand: Image.Image, ref: Image.Image, task: str, profile: str | None) -> bool:
    """Whether a rendered candidate counts as a blank render (reward 0, the judge is not asked). erm: a (near)
    single-colour image against a reference that is not. Render profile ``visual-erm`` as the released reward code
    does: chart/SVG only a pure white image (``omnirender_rm_v3.py::is_white_image``), tables never (the table
    reward sends a blank page to the judge)."""
    if profile == "visual-erm":
        if task == "table":
            return False
        lo, hi = cand.convert("L").getextrema()
        return lo == hi == 255
    return is_blank(cand) and not is_blank(ref)


def read_code(path: str | Path) -> str:
    from ..inputs import read_input_bytes

    data = read_input_bytes(path, "code")  # regular files only, at most 1 MiB
    if not data.strip():
        raise InputError(f"empty code file: {path}")
    return data.decode("utf-8", errors="replace")


def render_candidate(code: str, kind: str | None = None, options: Any = None, use_cache: bool = True,
                     filename: str | Path | None = None):
    """Extract and render code; returns (RenderResult, kind). When the content does not say which language
    it is, the extension of ``filename`` does (``.md``, ``.tex``, ``.html``, ``.svg``, ``.py``), as in
    ``erm render``."""
    from ..renderers import extract_code, render

    extracted, detected = extract_code(code)
    k = kind or detected
    if k is None and filename is not None:
        from ..renderers.detect import KIND_OF_EXTENSION, PYTHON_EXTENSIONS, detect_kind

        if Path(filename).suffix.lower() in KIND_OF_EXTENSION.keys() | PYTHON_EXTENSIONS:
            k = detect_kind(extracted, filename)
    return render(extracted, kind=k, options=options, cache=use_cache), k


def score_candidate(
    reference: str | Path | bytes | Image.Image,
    candidate: str | Path | bytes | Image.Image,
    *,
    task: str = "auto",
    kind: str | None = None,
    judge: Judge | str = "critic",
    render_options: Any = None,
    use_cache: bool = True,
    candidate_is_code: bool | None = None,
    max_pixels: int | None = None,
) -> Verdict:
    """Judge ``candidate`` against ``reference``. See the module docstring for accepted inputs.
    ``max_pixels`` caps every decoded image (reference, candidate, render); default: imageio's cap."""
    t0 = time.perf_counter()
    cap = {"max_pixels": max_pixels} if max_pixels else {}
    ref_img = load_image(reference, what="reference", **cap)
    the_judge = resolve_judge(judge)
    judge_id = {"name": the_judge.name, "version": the_judge.version}
    render_info: dict[str, Any] = {}

    # a str names a file only when the caller did not say what it is (the CLI); code given as code
    # (a model answer, an HTTP field) is never opened as a path
    names_a_file = isinstance(candidate, Path) or (candidate_is_code is None and isinstance(candidate, str)
                                                   and "\n" not in candidate
                                                   and "\x00" not in candidate and len(candidate) < 4096
                                                   and os.path.lexists(candidate))
    as_code = candidate_is_code
    if as_code is None:
        if isinstance(candidate, (bytes, Image.Image)):
            as_code = False
        else:
            as_code = not (names_a_file and is_image_path(candidate))  # type: ignore[arg-type]
    filename = None
    if as_code and names_a_file:
        filename = candidate
        candidate = read_code(candidate)  # type: ignore[arg-type]

    if as_code:
        from ..renderers import TASK_OF_KIND

        result, k = render_candidate(str(candidate), kind=kind, options=render_options, use_cache=use_cache,
                                     filename=filename)
        render_info = {"kind": k, "render_seconds": round(result.seconds, 4), "cache_hit": result.cache_hit,
                       "versions": result.versions}
        if task == "auto":
            task = TASK_OF_KIND.get(k, "chart")
        if not result.ok:
            v = Verdict.render_failure(task, result.error or "render failed", judge_id)
            v.info.update(render_info)
            v.timings["total"] = time.perf_counter() - t0
            return v
        cand_img = load_image(result.png or b"", what="render", **cap) if cap else result.image()
    else:
        cand_img = load_image(candidate, what="candidate", **cap)  # type: ignore[arg-type]

    task_guessed = task == "auto"
    if task_guessed:
        task = guess_task(ref_img)
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)} or auto")
    # a profile says how code renders: an image candidate (no render) keeps erm's rule
    if blank_render(cand_img, ref_img, task, getattr(render_options, "profile", None) if as_code else None):
        v = Verdict.render_failure(task, "blank render (a single colour)", judge_id)
        v.info.update(render_info)
        v.timings["total"] = time.perf_counter() - t0
        return v
    verdict = the_judge.judge(ref_img, cand_img, task)
    if task_guessed:  # neither the caller nor the candidate's code said which task: read from the image
        verdict.info["task_guessed"] = True
    if render_info:
        verdict.info.setdefault("render", render_info)
    from ..schemas import provenance

    verdict.info.setdefault("versions", provenance(the_judge, profile=getattr(render_options, "profile", None)
                                                   or "erm"))
    verdict.errors = verdict.sorted_errors()  # most severe first, as in its JSON
    verdict.timings["total"] = time.perf_counter() - t0
    return verdict


def guess_task(img: Image.Image) -> str:
    """Best-effort task guess for an image-only pair; the critic may provide a better one."""
    try:
        from .critic import guess_task as critic_guess

        return critic_guess(img)
    except (ImportError, AttributeError):
        return "chart"


def candidate_image(candidate: str | Path | bytes | Image.Image, *, candidate_is_code: bool, kind: str | None = None,
                    render_options: Any = None, use_cache: bool = True,
                    filename: str | Path | None = None) -> Image.Image | None:
    """The candidate as the judge saw it: the image itself, or the render of its code (``None`` when the code
    does not render). Renders come from the cache when the verdict's render put them there."""
    if not candidate_is_code:
        return load_image(candidate, what="candidate")  # type: ignore[arg-type]
    if isinstance(candidate, Path) or (filename is None and isinstance(candidate, str) and "\n" not in candidate
                                       and os.path.lexists(candidate)):
        filename = candidate
        candidate = read_code(candidate)
    result, _ = render_candidate(str(candidate), kind=kind, options=render_options, use_cache=use_cache,
                                 filename=filename)
    return result.image() if result.ok else None
