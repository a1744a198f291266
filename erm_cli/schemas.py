"""The machine-readable contract: the JSON objects erm's verbs print (``--json``) and write (JSONL lines,
``metrics.json``), as TypedDicts, and ``schema_version`` on every one of them.

``docs/SCHEMAS.md`` is generated from these types (``python -m erm_cli.schemas --write docs/SCHEMAS.md``);
``tests/test_schemas.py`` regenerates it (fails when it differs) and validates real outputs of each verb
against them (an undocumented key fails: the objects are closed unless marked open).

Importing this module is cheap (typing only): the lowest layers (``console``, ``jsonl``) stamp with it.
"""

import sys
from typing import Any, Literal, Union

# typing_extensions' TypedDict (a dependency of pydantic, which validates these on Python 3.11)
from typing_extensions import NotRequired, TypedDict

#: Version of every JSON object erm writes. Bump it when a key changes meaning or goes away (adding a key
#: does not). ``erm_cli.judges.verdict.SCHEMA_VERSION`` is this value.
SCHEMA_VERSION = "1"

#: Decimal places of rewards and scores in every output (the CLI prints 3 of them: round-half-even of the
#: same value).
SCORE_DECIMALS = 6


def stamp(obj: Any) -> Any:
    """``obj`` with ``schema_version`` (a dict gets the key if it has none; anything else is returned as is)."""
    if isinstance(obj, dict) and "schema_version" not in obj:
        obj["schema_version"] = SCHEMA_VERSION
    return obj


def provenance(judge: Any = None, *, model: str | None = None, profile: str | None = None,
               protocol: str | None = None) -> dict[str, str]:
    """What made a result: erm's version, the judge (name-version), its model and request protocol, and the
    render profile. Renderer and font versions are recorded per render (``versions`` of a render result)."""
    from . import __version__

    out: dict[str, str] = {"erm": __version__}
    if judge is not None:
        jid = getattr(judge, "id", None)
        jid = jid() if callable(jid) else jid
        name = getattr(judge, "name", None) or (jid or {}).get("name")
        version = getattr(judge, "version", None) or (jid or {}).get("version")
        if name:
            out["judge"] = f"{name}-{version}" if version else str(name)
        model = model or getattr(judge, "model_spec", None) or getattr(judge, "model", None)
        layout = getattr(judge, "request_layout", None)
        if layout and protocol is None:
            protocol = "erm" if layout == "reward" else str(layout)
    if isinstance(model, str) and model:
        out["model"] = model
    if protocol:
        out["protocol"] = protocol
    if profile:
        out["profile"] = profile
    return out


# ---------------------------------------------------------------------------------------------------------
# the objects (docstrings and the comments after each key are the documentation)
# ---------------------------------------------------------------------------------------------------------


class ErrorDetail(TypedDict):
    """The ``error`` of an error object."""

    code: int  # the exit code: 2 usage/input, 3 render failure, 4 model/backend failure
    message: str  # the one line also printed on stderr


class ErrorObject(TypedDict):
    """An error under ``--json`` (stdout), written instead of a result: a usage error, unreadable input, a
    failed model. The exit code is ``error.code``."""

    schema_version: str
    error: ErrorDetail


class VerdictError(TypedDict):
    """One discrepancy of a verdict (Visual-ERM's taxonomy). Errors are listed most severe first."""

    category: str  # e.g. data_error, text_error, style_error, structure_error, layout_error, numeric_error
    severity: int  # 1 minor, 2 medium, 3 severe
    location: str  # where in the image, in words
    description: str  # what differs: expected vs found
    bbox: NotRequired[list[float]]  # [x0, y0, x1, y1] in reference pixels, when the judge localises
    evidence: NotRequired[dict[str, Any]]  # the judge's measurements behind the error (open)


class JudgeId(TypedDict, total=False):
    """The judge that made a verdict (open: model judges add their model and request layout)."""

    name: str
    version: str


class Verdict(TypedDict):
    """`erm judge --json`, the ``verdict`` of a predictions line, ``/judge`` of `erm serve`. One
    ``<category>_count`` key per category of the task's taxonomy (e.g. ``data_error_count``)."""

    schema_version: str
    task: str  # chart, table or svg
    errors: list[VerdictError]  # most severe first
    severity_total: float  # the sum of severities (25 when the answer could not be parsed)
    reward: float  # in [0, 1]; 0 when the candidate did not render
    reward_formula: str  # released: clip(1 - S/50, 0, 1); ordered: exp(-W/30) (the critic)
    rl_reward: float  # render_ok + reward, in [0, 2]
    render_ok: bool  # false: the candidate did not render (info.render_error says why)
    parsed: bool  # false: a model judge's answer could not be parsed
    judge: JudgeId
    timings: dict[str, float]  # seconds per stage
    pair_weight: NotRequired[float]  # the critic's learned pair term added to the ordered reward's total
    score: NotRequired[float]  # a baseline's similarity (ssim, mse, phash); no errors then
    info: NotRequired[dict[str, Any]]  # open: render (kind, versions), versions (what made it), warnings...


class RenderResult(TypedDict):
    """`erm render --json` (one render)."""

    schema_version: str
    ok: bool
    kind: str  # matplotlib, plotly, svg, html, markdown, latex
    error: str | None  # why it failed (null when ok)
    seconds: float
    cache_hit: bool
    versions: dict[str, str]  # renderer, library and font versions (the cache key includes them)
    key: str  # the cache key
    profile: str  # erm or visual-erm
    output: str | None  # the PNG written (null: stdout or failed)
    width: NotRequired[int]
    height: NotRequired[int]


class RenderBatchSummary(TypedDict):
    """`erm render --batch --json`."""

    schema_version: str
    total: int
    skipped: int  # already finished in an earlier run
    rendered: int
    ok: int
    failed: int
    cache_hits: int
    seconds: float
    results: str  # path of results.jsonl
    failures: list[dict[str, Any]]  # the first 20: id and error


class RenderBatchLine(TypedDict):
    """One line of ``results.jsonl`` written by `erm render --batch`."""

    schema_version: str
    id: str
    png: str | None  # file name in the output folder (null when it failed)
    ok: bool
    error: str | None
    seconds: float
    cache_hit: bool
    kind: str | None


class JudgeBatchSummary(TypedDict):
    """`erm judge --batch --json`."""

    schema_version: str
    total: int
    judged: int  # verdicts whose candidate rendered
    render_failed: int  # verdicts whose candidate did not render (reward 0)
    resumed: int  # verdicts already there from an earlier run
    failed: int  # items that failed alone (bad path, unreadable image)
    mean_reward: float  # over every verdict (a candidate that did not render counts 0)
    predictions: str  # path of predictions.jsonl
    fail_under: NotRequired[float]
    below_fail_under: NotRequired[list[str]]  # ids below --fail-under
    diff_images: NotRequired[dict[str, Any]]  # written, folder
    viewer: NotRequired[str]  # the run viewer's static index.html (see erm view)


class PredictionLine(TypedDict):
    """One line of ``predictions.jsonl`` (`erm judge --batch`, `erm bench judge`): a verdict or an error."""

    schema_version: str
    id: str
    task: str
    judge: str  # the judge's label
    verdict: NotRequired[Verdict]
    error: NotRequired[str]  # the item failed alone: why


class SynthStats(TypedDict, total=False):
    """`erm synth --json` (open: counts by task and pair type)."""

    schema_version: str
    out: str
    records: int
    seconds: float
    pairs_per_minute: float


#: The objects of docs/SCHEMAS.md, in order, with the verbs that print or write them. Open objects (their
#: extra keys are allowed) are marked in the document.
DOCUMENTED: tuple[tuple[type, str, bool], ...] = (
    (Verdict, "erm judge --json; predictions.jsonl `verdict`; erm serve /judge", False),
    (VerdictError, "each of a verdict's `errors`", False),
    (JudgeId, "a verdict's `judge`", True),
    (RenderResult, "erm render --json", False),
    (RenderBatchSummary, "erm render --batch --json", False),
    (RenderBatchLine, "erm render --batch: results.jsonl lines", False),
    (JudgeBatchSummary, "erm judge --batch --json", False),
    (PredictionLine, "erm judge --batch, erm bench judge: predictions.jsonl lines", False),
    (SynthStats, "erm synth --json", True),
    (ErrorObject, "any verb with --json, on an error", False),
    (ErrorDetail, "an error object's `error`", False),
)

def documented() -> tuple[tuple[type, str, bool], ...]:
    """:data:`DOCUMENTED` and the pydantic bodies of `erm serve` (imported here: they need pydantic)."""
    from .serve.schemas import Health, JudgeResponse, RewardResponse

    return DOCUMENTED + (
        (JudgeResponse, "erm serve: POST /judge, and each of /reward's `results`", False),
        (RewardResponse, "erm serve: POST /reward", False),
        (Health, "erm serve: GET /health", False),
    )


#: Every other ``--json`` document and JSONL line (refine results and trajectories, bench metrics, train
#: results, lists) is an open object that carries ``schema_version`` too.
OPEN_OUTPUTS: tuple[tuple[str, str], ...] = (
    ("erm refine --json, refine summary.json", "the refine result: task, kind, policy, judge, best, initial, "
     "candidates, stop_reason, outputs"),
    ("refine trajectory.jsonl, refine --batch predictions.jsonl", "one candidate / item per line"),
    ("erm bench judge --json, metrics.json, points.json, matches/*.jsonl", "F1_hard / F1_soft / Sc, AUROC, "
     "pairwise, baselines, provenance (with versions)"),
    ("erm bench policy --json, metrics.json, results.jsonl", "render rate, task metrics, reward per item"),
    ("erm bench speed --json, speed.json", "timings by section"),
    ("erm train reward|policy|export-verl|critic --json, metrics.jsonl lines", "the training result, the "
     "trainer's log lines"),
    ("erm synth: manifest.json, failures.jsonl", "the run's settings and figures; why a group failed"),
    ("erm cache info|clear --json, erm models --json, erm train presets --json", "their figures and lists "
     "(a list is under a key: items, presets)"),
)


# ---------------------------------------------------------------------------------------------------------
# validation and the generated document
# ---------------------------------------------------------------------------------------------------------


def validate(obj: Any, cls: type) -> None:
    """Raise ``ValueError`` naming the key when ``obj`` is not a ``cls`` (``<category>_count`` keys of a
    verdict are allowed: they depend on the task)."""
    if hasattr(cls, "model_fields"):
        return _validate_model(obj, cls)
    obj = _without_counts(obj)
    from pydantic import TypeAdapter, ValidationError

    _set_nested_config()  # closed objects refuse extra keys, also where they are nested
    try:
        TypeAdapter(cls).validate_python(obj, strict=False)
    except ValidationError as exc:
        raise ValueError(f"not a {cls.__name__}: {exc}") from None
    if isinstance(obj, dict) and obj.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{cls.__name__}: schema_version is {obj.get('schema_version')!r}, not {SCHEMA_VERSION!r}")


def _validate_model(obj: Any, cls: Any) -> None:
    """A response body of `erm serve` (a pydantic model): exactly its fields, each of its type; nested
    bodies (a reward batch's ``results``) and verdicts are checked too."""
    from pydantic import ValidationError

    if not isinstance(obj, dict):
        raise ValueError(f"not a {cls.__name__}: not an object")
    missing, extra = set(cls.model_fields) - set(obj), set(obj) - set(cls.model_fields)
    if missing or extra:
        raise ValueError(f"not a {cls.__name__}: missing {sorted(missing)}, undocumented {sorted(extra)}")
    try:
        cls.model_validate(obj)
    except ValidationError as exc:
        raise ValueError(f"not a {cls.__name__}: {exc}") from None
    if obj.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{cls.__name__}: schema_version is {obj.get('schema_version')!r}")
    for item in obj.get("results") or []:
        from .serve.schemas import JudgeResponse

        _validate_model(item, JudgeResponse)
    if isinstance(obj.get("verdict"), dict):
        validate(obj["verdict"], Verdict)


def _without_counts(obj: Any) -> Any:
    """A verdict (also nested in a predictions line) without its per-category ``<category>_count`` keys."""
    if not isinstance(obj, dict):
        return obj
    if "errors" in obj and "task" in obj:
        obj = {k: v for k, v in obj.items() if not (k.endswith("_count") and isinstance(v, int))}
    if isinstance(obj.get("verdict"), dict):
        obj = {**obj, "verdict": _without_counts(obj["verdict"])}
    return obj


def _set_nested_config() -> None:
    from pydantic import ConfigDict

    for cls, _, is_open in DOCUMENTED:
        cls.__pydantic_config__ = ConfigDict(extra="allow" if is_open else "forbid")  # type: ignore[attr-defined]


def _type_name(t: Any) -> str:
    import types
    import typing

    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is NotRequired or (origin is not None and getattr(origin, "_name", "") == "NotRequired"):
        return _type_name(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"object of {_type_name(args[1])}" if args else "object"
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if t is type(None):
        return "null"
    if isinstance(t, type) and (t.__module__ == __name__ or hasattr(t, "model_fields")):
        return f"[{t.__name__}](#{t.__name__.lower()})"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}.get(t, str(t))


def _key_comments(cls: type) -> dict[str, str]:
    """The ``# comment`` after each key in the class body (the source is the documentation)."""
    import inspect
    import re

    out: dict[str, str] = {}
    for line in inspect.getsource(cls).splitlines():
        m = re.match(r"\s+(\w+): .*?#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def _rows(cls: type) -> list[tuple[str, str, bool, str]]:
    """(key, type, required, meaning) of a TypedDict (meaning: the comment after the key) or a pydantic model
    (meaning: the field's description)."""
    import typing

    fields = getattr(cls, "model_fields", None)
    if fields is not None:  # pydantic
        # a response body writes every field (defaults included): each one is always there
        return [(k, _type_name(f.annotation), True, " ".join((f.description or "").split()))
                for k, f in fields.items()]
    hints = typing.get_type_hints(cls, include_extras=True)
    comments = _key_comments(cls)
    required = getattr(cls, "__required_keys__", frozenset())
    return [(k, _type_name(t), k in required, comments.get(k, "")) for k, t in hints.items()]


def render_markdown() -> str:
    """docs/SCHEMAS.md, from the types above."""
    import inspect

    lines = [
        "# erm's JSON contract",
        "",
        "<!-- Generated by `python -m erm_cli.schemas --write docs/SCHEMAS.md` from erm_cli/schemas.py; "
        "tests/test_schemas.py fails when this file differs. Do not edit by hand. -->",
        "",
        f"Every `--json` output and every JSONL line or JSON file a verb writes carries `schema_version` "
        f"(now `\"{SCHEMA_VERSION}\"`). It changes when a key changes meaning or goes away; new keys may be "
        "added within a version. A verdict's reward is one number everywhere: rounded to "
        f"{SCORE_DECIMALS} decimals in JSON and in the Python API (`Verdict.reward`, `rl_reward`), printed with 3 "
        "of them by the people view; errors come most severe first. "
        "Results record what made them: a render's `versions` (renderer, libraries, fonts), a verdict's "
        "`judge` and `info.versions` (erm, judge, model, protocol, profile), bench metrics' "
        "`provenance.versions` (the same, plus the font set). Datasets written by `erm synth` (data.jsonl, "
        "pairwise.jsonl, sft.jsonl) keep the VC-RewardBench record layout; their manifest.json and "
        "failures.jsonl carry `schema_version`.",
        "",
        "A closed object has exactly the keys listed (required unless marked optional); an open one may carry "
        "more.",
        "",
        "| object | where |",
        "| --- | --- |",
    ]
    objects = documented()
    for cls, where, _ in objects:
        lines.append(f"| [{cls.__name__}](#{cls.__name__.lower()}) | {where} |")
    for cls, where, is_open in objects:
        doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")  # the class's own docstring only
        lines += ["", f"## {cls.__name__}", "", doc, "",
                  f"{'Open' if is_open else 'Closed'} object; {where}.", "",
                  "| key | type | required | meaning |", "| --- | --- | --- | --- |"]
        for key, type_name, req, meaning in _rows(cls):
            cells = [f"`{key}`", type_name, "yes" if req else "optional", meaning]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Other outputs", "",
              "Open objects that carry `schema_version` (their keys are described by each verb's docs):", "",
              "| output | content |", "| --- | --- |"]
    lines += [f"| {where.replace('|', chr(92) + '|')} | {what} |" for where, what in OPEN_OUTPUTS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m erm_cli.schemas", description="Write docs/SCHEMAS.md from "
                                 "erm's output types.")
    ap.add_argument("--write", metavar="FILE", help="write the Markdown here (default: print it)")
    ap.add_argument("--check", metavar="FILE", help="exit 1 when FILE differs from what would be written")
    args = ap.parse_args(argv)
    text = render_markdown()
    if args.check:
        same = Path(args.check).read_text(encoding="utf-8") == text
        print("up to date" if same else f"{args.check} differs: run python -m erm_cli.schemas --write {args.check}")
        return 0 if same else 1
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
