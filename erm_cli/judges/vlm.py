"""The generative judge: a vision-language model compares the reference with the candidate and answers
with Visual-ERM JSON, which is repaired and parsed into a :class:`Verdict`.

    judge = VLMJudge("openai:http://127.0.0.1:8000/v1#visual-erm")   # any spec erm_cli.models accepts
    verdict = judge.judge(reference_img, candidate_img, "chart")
    verdicts = judge.judge_many([(ref, cand, "svg"), ...])             # one batched generate call

Defaults follow the released Visual-ERM reward code (VISUAL-ERM.md §2.1): image 1 is the reference and
image 2 the candidate, then the prompt; images are shrunk to at most 1024 px (768 px for tables) and
re-encoded as JPEG; chart/SVG sampling is temperature 0.7, top-p 0.8, top-k 20, presence penalty 1.5,
4096 new tokens; tables are greedy with repetition penalty 1.05 and 8192 new tokens. An unreadable
answer is asked for once more; if it still cannot be read the verdict is marked ``parsed=False`` and
scored with the released fallback (severity total 25, reward 0.5). With ``swap=True`` every pair is
also judged with the images swapped and the two rewards are averaged (position-bias check).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from .. import __version__
from ..errors import InputError, ModelError
from ..models.base import Backend, Completion, Request, Sampling
from .prompts import judge_prompt, load_prompt_file
from .verdict import TASKS, Verdict
from .vlm_output import parse_judge_output, release_reader, verdict_to_target_json

#: Sampling of the released chart/SVG reward code and of its table reward code.
RELEASED_SAMPLING: dict[str, Sampling] = {
    "chart": Sampling(max_tokens=4096, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5,
                      repetition_penalty=1.0),
    "svg": Sampling(max_tokens=4096, temperature=0.7, top_p=0.8, top_k=20, presence_penalty=1.5,
                    repetition_penalty=1.0),
    "table": Sampling(max_tokens=8192, temperature=0.0, repetition_penalty=1.05),
}
#: The released VC-RewardBench script's request (``evaluation/api_judge.py``): ``max_tokens`` only, the
#: server's defaults for everything else.
BENCH_SAMPLING = Sampling(max_tokens=8192, server_defaults=True)
#: Longest image side sent to the judge, per task (released code: 1024 chart/SVG, 768 table).
RELEASED_IMAGE_SIDE: dict[str, int] = {"chart": 1024, "svg": 1024, "table": 768}
JPEG_QUALITY = 95
#: A greedy judge that produced junk would produce the same junk again: the retry samples instead.
RETRY_TEMPERATURE = 0.7

__all__ = [
    "RELEASED_IMAGE_SIDE",
    "default_profile",
    "is_released_model",
    "RELEASED_SAMPLING",
    "VLMJudge",
    "build_judge_request",
    "parse_judge_output",
    "prepare_image",
    "verdict_to_target_json",
]


def is_released_model(model: Any) -> bool:
    """True for the released Visual-ERM judge (a spec, path or served name mentioning ``visual-erm``)."""
    text = model if isinstance(model, str) else getattr(model, "spec", "") or ""
    return "visual-erm" in str(text).lower().replace("_", "-")


def default_profile(model: Any) -> str | None:
    """The render profile a judge model implies: ``visual-erm`` for the released weights, else None (erm)."""
    return "visual-erm" if model is not None and is_released_model(model) else None


#: How images are shrunk and encoded for the judge: erm's way (LANCZOS, JPEG quality 95) or the released
#: reward code's (``Image.thumbnail`` defaults, i.e. BICUBIC; JPEG at PIL's default quality 75 labelled
#: ``image/jpeg`` for chart/SVG, PNG labelled just ``image`` for tables, as ``data:image;base64,``).
IMAGE_STYLES = ("erm", "visual-erm", "original")
#: Request layouts: the released reward code's ([system], user = image 1, image 2, text) or the released
#: VC-RewardBench script's (``evaluation/api_judge.py``: user = text, image 1, image 2; images as they are).
REQUEST_LAYOUTS = ("reward", "visual-erm-bench")
#: How answers are read: erm's reader (the last answer object, repaired), or the released code's (the first
#: object for the chart/SVG reward, the whole ``{...}`` span for the table reward and the bench script; see
#: :data:`erm_cli.judges.vlm_output.READERS`). Default: the released reader for the released judge (as
#: ``image_style``) and under the VC-RewardBench layout.
ANSWER_READERS = ("erm", "visual-erm")


def prepare_image(img: Image.Image, max_side: int | None, style: str = "erm", task: str = "chart") -> Image.Image:
    """Shrink so the longest side is at most ``max_side`` (aspect kept) and re-encode (see IMAGE_STYLES).

    The encoded bytes ride along in ``img.info["erm_encoded"]`` so HTTP backends send exactly these bytes.
    """
    from ..imageio import load_image

    im = load_image(img, what="judge image").copy()
    buf = io.BytesIO()
    if style == "original":  # no resizing, lossless: the pixels of the image as given
        im.save(buf, format="PNG")
        data = buf.getvalue()
        out = Image.open(io.BytesIO(data))
        out.load()
        out.info["erm_encoded"] = ("image/png", data)
        return out
    if style == "visual-erm":
        if max_side:
            im.thumbnail((max_side, max_side))  # the released code's call: PIL's default resampling
        if task == "table":  # table_parse_rm_v2.vlm_client_qa labels its PNGs "data:image;base64,"
            im.convert("RGB").save(buf, format="PNG")
            mime = "image"
        else:
            im.convert("RGB").save(buf, format="JPEG")
            mime = "image/jpeg"
    else:
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        im.convert("RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
        mime = "image/jpeg"
    data = buf.getvalue()
    out = Image.open(io.BytesIO(data))
    out.load()
    out = out.convert("RGB")
    out.info["erm_encoded"] = (mime, data)
    return out


#: ``evaluation/api_judge.py`` labels every image ``image/jpeg``, whatever the file holds.
BENCH_IMAGE_MIME = "image/jpeg"
#: ``info`` key naming the file an image was loaded from (set by ``erm bench judge``), so that the bench
#: layout can send that file's own bytes.
SOURCE_FILE_KEY = "erm_source_file"


def bench_image(src: Any, what: str = "image") -> Image.Image:
    """An image as the released VC-RewardBench script sends it (``call_api``): the file's own bytes,
    unresized and not re-encoded, labelled ``image/jpeg`` (whatever the format). ``src`` is a path, bytes,
    or a PIL image; for an image loaded from a file (``img.info[SOURCE_FILE_KEY]``, or PIL's ``filename``)
    the file's bytes are sent if they still decode to the same pixels; any other image (a render) is sent as PNG, labelled
    ``image/jpeg`` as the script labels its PNG files."""
    from ..imageio import load_image, to_rgb

    data: bytes | None = None
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    elif isinstance(src, (str, Path)):
        data = _file_bytes(Path(src), what)
    elif isinstance(src, Image.Image) and (src.info.get(SOURCE_FILE_KEY) or getattr(src, "filename", "")):
        from contextlib import suppress

        with suppress(Exception):  # a file that changed or went away: send the pixels as PNG instead
            candidate = _file_bytes(Path(src.info.get(SOURCE_FILE_KEY) or src.filename), what)
            decoded = load_image(candidate, what=what)
            if decoded.size == src.size and decoded.tobytes() == to_rgb(src).tobytes():
                data = candidate
    if data is None:
        buf = io.BytesIO()
        load_image(src, what=what).save(buf, format="PNG")
        data = buf.getvalue()
    out = load_image(data, what=what).copy()
    out.info["erm_encoded"] = (BENCH_IMAGE_MIME, data)
    return out


def _file_bytes(path: Path, what: str) -> bytes:
    from ..inputs import MAX_IMAGE_BYTES, read_input_bytes

    return read_input_bytes(path, what, MAX_IMAGE_BYTES)


def build_judge_request(reference_img: Any, candidate_img: Any, task: str, prompt: str | None = None,
                        system: str | None = None, max_image_side: int | None = None,
                        image_style: str = "erm", layout: str = "reward") -> Request:
    """One chat request: [system], then user = [image 1: reference, image 2: candidate, prompt text].

    ``max_image_side`` None uses the released defaults (1024 px; 768 px for tables); 0 keeps full size.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    side = RELEASED_IMAGE_SIDE[task] if max_image_side is None else max_image_side
    text = prompt if prompt is not None else judge_prompt(task)
    request: Request = []
    if system:
        request.append({"role": "system", "content": system})
    if layout == "visual-erm-bench":  # api_judge.py: the text first, then the two images as they are
        request.append({"role": "user", "content": [
            {"type": "text", "text": text},
            {"type": "image", "image": bench_image(reference_img, "reference"), "detail": "high"},
            {"type": "image", "image": bench_image(candidate_img, "candidate"), "detail": "high"},
        ]})
        return request
    request.append({"role": "user", "content": [
        {"type": "image", "image": prepare_image(reference_img, side, image_style, task)},
        {"type": "image", "image": prepare_image(candidate_img, side, image_style, task)},
        {"type": "text", "text": text},
    ]})
    return request


def _resolve_sampling(sampling: Sampling | dict[str, Sampling] | None) -> dict[str, Sampling]:
    if sampling is None:
        return dict(RELEASED_SAMPLING)
    if isinstance(sampling, Sampling):
        return {t: sampling for t in TASKS}
    if isinstance(sampling, dict):
        out = dict(RELEASED_SAMPLING)
        for task, s in sampling.items():
            if task not in TASKS or not isinstance(s, Sampling):
                raise InputError(f"sampling must map tasks ({', '.join(TASKS)}) to Sampling objects")
            out[task] = s
        return out
    raise InputError("sampling must be a Sampling, a dict of them per task, or None")


class VLMJudge:
    """A generative judge over any model spec or backend (see the module docstring)."""

    name = "vlm"
    version = __version__

    def __init__(self, model: str | Backend | None = None, prompt_file: str | Path | None = None,
                 swap: bool = False, sampling: Sampling | dict[str, Sampling] | None = None,
                 max_image_side: int | dict[str, int] | None = None, retries: int = 1,
                 model_options: dict[str, Any] | None = None, image_style: str | None = None,
                 request_layout: str = "reward", answer_reader: str | None = None,
                 **extra_model_options: Any) -> None:
        model = model if model is not None else os.environ.get("ERM_JUDGE_MODEL")
        if model is None or (isinstance(model, str) and not model.strip()):
            raise InputError("the vlm judge needs a model: --model SPEC (e.g. tiny:qwen3-vl, hf:PATH, "
                             "openai:URL#MODEL) or ERM_JUDGE_MODEL")
        self._model_options = {**(model_options or {}), **extra_model_options}
        if isinstance(model, str):
            from ..models import parse_spec

            self.model_spec = parse_spec(model).canonical()
            self._spec_text = model
            self._backend: Backend | None = None
        else:
            if not hasattr(model, "generate"):
                raise InputError("model must be a spec string or a backend with generate()")
            self._backend = model
            self.model_spec = getattr(model, "spec", type(model).__name__)
            self._spec_text = self.model_spec
        self.prompts: dict[str, str] = {t: judge_prompt(t) for t in TASKS}
        self.systems: dict[str, str | None] = {t: None for t in TASKS}
        self.prompt_source = "builtin"
        if prompt_file:
            custom = load_prompt_file(prompt_file)
            common = custom.pop("system", None)
            for t in TASKS:
                self.systems[t] = custom.pop(f"system.{t}", None) or common
            self.prompts.update(custom)
            self.prompt_source = str(prompt_file)
        blob = json.dumps({"prompts": self.prompts, "systems": self.systems}, sort_keys=True).encode()
        self.prompt_id = ("builtin-" if self.prompt_source == "builtin" else "file-") + \
            hashlib.sha256(blob).hexdigest()[:12]
        self.swap = bool(swap)
        self.sampling = _resolve_sampling(sampling)
        if isinstance(max_image_side, dict):
            self.image_side = {**RELEASED_IMAGE_SIDE, **max_image_side}
        elif max_image_side is None:
            self.image_side = dict(RELEASED_IMAGE_SIDE)
        else:
            self.image_side = {t: int(max_image_side) for t in TASKS}
        self.retries = max(0, int(retries))
        if image_style is None:  # the released judge gets its images as the released code sends them
            image_style = "visual-erm" if is_released_model(self.model_spec) else "erm"
        if image_style not in IMAGE_STYLES:
            raise InputError(f"image_style must be one of {', '.join(IMAGE_STYLES)}, not {image_style!r}")
        self.image_style = image_style
        if request_layout not in REQUEST_LAYOUTS:
            raise InputError(f"request_layout must be one of {', '.join(REQUEST_LAYOUTS)}, not {request_layout!r}")
        self.request_layout = request_layout
        if request_layout == "visual-erm-bench" and sampling is None:
            self.sampling = {t: BENCH_SAMPLING for t in TASKS}
        if answer_reader is None:  # the released judge's answers are read as the released code reads them
            answer_reader = "visual-erm" if image_style == "visual-erm" or request_layout != "reward" else "erm"
        if answer_reader not in ANSWER_READERS:
            raise InputError(f"answer_reader must be one of {', '.join(ANSWER_READERS)}, not {answer_reader!r}")
        self.answer_reader = answer_reader

    # -- model ----------------------------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from ..models import load_model

            self._backend = load_model(self._spec_text, **self._model_options)
        return self._backend

    def judge_id(self) -> dict[str, str]:
        """Name, version, model spec and a fingerprint of the prompts (verdicts record it)."""
        jid = {"name": self.name, "version": self.version, "model": self.model_spec, "prompts": self.prompt_id}
        if self.request_layout != "reward":
            jid["layout"] = self.request_layout
        return jid

    # -- public API -----------------------------------------------------------------------------------------
    def request_for(self, reference: Any, candidate: Any, task: str) -> Request:
        if task not in TASKS:
            raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
        return build_judge_request(reference, candidate, task, prompt=self.prompts[task], system=self.systems[task],
                                   max_image_side=self.image_side[task], image_style=self.image_style,
                                   layout=self.request_layout)

    def judge(self, reference: Image.Image, candidate: Image.Image, task: str) -> Verdict:
        """Judge one pair; a backend failure raises :class:`ModelError` (exit code 4)."""
        verdict = self.judge_many([(reference, candidate, task)])[0]
        if verdict.info.get("backend_error"):
            raise ModelError(f"judge model {self.model_spec} failed: {verdict.info['backend_error']}")
        return verdict

    def judge_many(self, items: Sequence[tuple[Any, Any, str]]) -> list[Verdict]:
        """Judge many pairs with batched generate calls. Never raises for one bad item: its verdict is
        marked ``parsed=False`` with the reason in ``info`` (``backend_error`` or ``parse_error``)."""
        t0 = time.perf_counter()
        jobs: list[tuple[int, bool, str, Request | None, str | None]] = []  # (item, swapped, task, req, err)
        for idx, (ref, cand, task) in enumerate(items):
            for swapped in ((False, True) if self.swap else (False,)):
                try:
                    a, b = (cand, ref) if swapped else (ref, cand)
                    jobs.append((idx, swapped, task, self.request_for(a, b, task), None))
                except InputError as exc:
                    jobs.append((idx, swapped, task, None, str(exc)))
        results = self._run(jobs)
        verdicts: list[Verdict] = []
        for idx, (_, _, task) in enumerate(items):
            main = results[(idx, False)]
            if self.swap:
                main = _combine_swapped(main, results[(idx, True)])
            main.timings.setdefault("judge", round(time.perf_counter() - t0, 4) / max(1, len(items)))
            verdicts.append(main)
        return verdicts

    # -- internals ------------------------------------------------------------------------------------------
    def _run(self, jobs: list[tuple[int, bool, str, Request | None, str | None]]) -> dict[tuple[int, bool], Verdict]:
        out: dict[tuple[int, bool], Verdict] = {}
        judge_id = self.judge_id()
        pending: list[tuple[int, bool, str, Request]] = []
        for idx, swapped, task, req, err in jobs:
            if req is None:
                out[(idx, swapped)] = _failed(task, judge_id, "input_error", err or "bad input")
            else:
                pending.append((idx, swapped, task, req))
        attempt = 0
        while pending:
            retry: list[tuple[int, bool, str, Request]] = []
            for task, group in _group_by_task(pending):
                sampling = self.sampling[task]
                if attempt:
                    sampling = replace(sampling, temperature=max(sampling.temperature, RETRY_TEMPERATURE),
                                       seed=None if sampling.seed is None else sampling.seed + attempt)
                completions = self._generate([req for _, _, _, req in group], sampling)
                for (idx, swapped, task_, req), comp in zip(group, completions):
                    verdict = self._verdict(comp, task_, attempt)
                    out[(idx, swapped)] = verdict
                    if (not verdict.parsed and not comp.error and attempt < self.retries):
                        retry.append((idx, swapped, task_, req))
            pending = retry
            attempt += 1
        return out

    def _generate(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        try:
            completions = self.backend.generate(requests, sampling)
        except (InputError, ModelError):
            raise
        except Exception as exc:  # noqa: BLE001 - a backend bug fails these items, not the batch
            msg = f"{exc.__class__.__name__}: {exc}"
            return [Completion(text="", error=msg) for _ in requests]
        if len(completions) != len(requests):
            return [Completion(text="", error="backend returned a wrong number of completions")
                    for _ in requests]
        return completions

    def _verdict(self, comp: Completion, task: str, attempt: int) -> Verdict:
        judge_id = self.judge_id()
        if comp.error:
            return _failed(task, judge_id, "backend_error", comp.error)
        bench = self.request_layout == "visual-erm-bench"
        reader = release_reader(task, bench) if self.answer_reader == "visual-erm" else "erm"
        verdict = parse_judge_output(comp.text, task, judge=judge_id, literal_categories=bench, reader=reader)
        verdict.info["attempts"] = attempt + 1
        verdict.info["tokens"] = {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens}
        if comp.info.get("finish_reason"):
            verdict.info["finish_reason"] = comp.info["finish_reason"]
        if verdict.parsed:
            verdict.info["raw_output"] = comp.text[:4000]
        verdict.timings["model"] = round(comp.seconds, 4)
        return verdict


def _group_by_task(pending: Iterable[tuple[int, bool, str, Request]]) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for job in pending:
        groups.setdefault(job[2], []).append(job)
    return list(groups.items())


def _failed(task: str, judge_id: dict[str, str], key: str, message: str) -> Verdict:
    return Verdict(task=task, errors=[], judge=judge_id, parsed=False, info={key: message})


def _combine_swapped(main: Verdict, swapped: Verdict) -> Verdict:
    """Average the two orders' rewards (``score``); errors stay those of the reference-first order."""
    main.info["swap"] = {"parsed": swapped.parsed, "severity_total": swapped.severity_total,
                         "reward": round(swapped.reward, 6), "errors": [e.to_dict() for e in swapped.errors]}
    usable = [v for v in (main, swapped) if v.parsed]
    if usable:
        main.score = sum(v.reward for v in usable) / len(usable)
        if not main.parsed:  # the swapped order saved the pair
            main.parsed = True
            main.info["parsed_from"] = "swapped order"
    return main
