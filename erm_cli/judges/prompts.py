"""Judge prompts: erm's own wording of the Visual-ERM output contract, and user prompt files.

``judge_prompt(task)`` asks a vision-language model to compare image 1 (the reference) with image 2
(the candidate's render) and to answer with exactly one JSON object: per-category counts and a list
of errors with ``category``, ``severity`` (1 minor, 2 medium, 3 severe), ``location`` and
``description`` (VISUAL-ERM.md §2.2).

``load_prompt_file(path)`` reads other prompts, e.g. the released Visual-ERM training prompts (best
with the ``internlm/Visual-ERM`` weights; see docs/MODELS.md). Accepted forms:

- a JSON object ``{"chart": "...", "table": "...", "svg": "...", "system": "..."}`` (any subset;
  ``"*"`` or ``"default"`` applies to every task not listed; ``"system.table"`` etc. set a system
  prompt for one task only);
- a folder holding ``chart.txt``, ``table.txt``, ``svg.txt`` (and optionally ``system.txt``);
- a text file with sections introduced by a line ``[chart]``, ``[table]``, ``[svg]`` or ``[system]``;
- a plain text file without sections: one prompt for every task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .verdict import TASKS, TAXONOMY

SEVERITY_SCALE = (
    "Severity scale:\n"
    "- 1 (minor): a small slip that barely changes how the image reads or what it tells.\n"
    "- 2 (medium): a fault that spoils part of the content; someone would have to fix it by hand "
    "before trusting it.\n"
    "- 3 (severe): a structural fault or wrong key content that breaks the match or would clearly "
    "mislead a reader."
)

_ROLES = {
    "chart": ("a meticulous reviewer of data visualisations",
              "a chart rendered from the original plotting code",
              "a chart rendered from plotting code written by a model that tried to reproduce image 1"),
    "table": ("a meticulous reviewer of table transcriptions",
              "the original table",
              "a table rendered from markup (HTML, Markdown or LaTeX) written by a model that tried to "
              "transcribe image 1"),
    "svg": ("a meticulous reviewer of vector graphics and icons",
            "the original graphic",
            "a graphic rendered from SVG code written by a model that tried to reproduce image 1"),
}

_CATEGORY_GUIDE = {
    "chart": {
        "structure_error": "wrong chart type, wrong number or arrangement of subplots, missing or extra "
                           "subplots, shared or aligned axes that differ",
        "data_error": "marks with wrong geometry or values, wrong scales or axis limits, missing or extra "
                      "series, categories or points",
        "text_error": "wrong, missing, extra, misplaced, overlapping or unreadable titles, axis labels, "
                      "tick labels, legend entries or annotations (typos included)",
        "style_error": "wrong colours or colour mapping, line styles, markers, widths, grid, background "
                       "or frame",
    },
    "table": {
        "layout_error": "wrong table structure: rows or columns missing, extra, merged, split or shifted; "
                        "wrong header hierarchy or spanning cells",
        "text_error": "wrong, missing or extra words in cells or headers (recognition errors, typos)",
        "numeric_error": "wrong numbers, signs, decimal places, symbols or units",
    },
    "svg": {
        "structure_error": "wrong overall composition: layout, grouping, proportions or placement of the "
                           "main parts",
        "shape_error": "wrong geometry of a component, or components missing or added",
        "style_error": "wrong stroke width, fill, colour or opacity",
        "text_symbol_error": "wrong, missing or extra glyphs, letters, labels or symbols",
    },
}

_LOCATION_EXAMPLES = {
    "chart": "'title of the left subplot', 'blue line, x between 3 and 5', 'legend'",
    "table": "'row 3, column \"Revenue\"', 'header row', 'last two columns'",
    "svg": "'left wheel', 'outline of the eye', 'background'",
}


def _schema(task: str) -> str:
    cats = TAXONOMY[task]
    counts = ", ".join(f'"{c}_count": <int>' for c in cats)
    options = " | ".join(cats)
    return ("{" + counts + ', "errors": [{"category": "' + options + '", "severity": 1 | 2 | 3, '
            '"location": "<where in image 2>", "description": "<what differs from image 1>"}]}')


def judge_prompt(task: str) -> str:
    """The built-in judge prompt for ``task`` (chart, table or svg)."""
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    role, ref, cand = _ROLES[task]
    guide = "\n".join(f"- {c}: {d}." for c, d in _CATEGORY_GUIDE[task].items())
    return (
        f"You are {role}. Image 1 is the reference: {ref}. Image 2 is the candidate: {cand}.\n\n"
        "Compare image 2 with image 1 in detail and list every visible difference that makes image 2 a "
        "worse reproduction of image 1. Judge what is visible only; ignore differences that no reader "
        "would notice (anti-aliasing, tiny shifts of a pixel or two).\n\n"
        f"Error categories:\n{guide}\n\n"
        f"{SEVERITY_SCALE}\n\n"
        "For each error give its category, its severity, where it is in image 2 "
        f"(e.g. {_LOCATION_EXAMPLES[task]}) and a short description of what is wrong. "
        "Report each distinct problem once. Each count must equal the number of listed errors of that "
        "category. If the two images match, return all counts as 0 and an empty error list.\n\n"
        "Answer with a single JSON object and nothing else: no explanation and no code fences. "
        f"Use exactly this shape:\n{_schema(task)}"
    )


def builtin_prompts() -> dict[str, str]:
    return {t: judge_prompt(t) for t in TASKS}


_SECTION_KEYS = set(TASKS) | {"system", "*", "default"} | {f"system.{t}" for t in TASKS}


def _finish(mapping: dict[str, str], source: str, exact: bool = False) -> dict[str, str]:
    """Checked prompts; ``exact`` keeps the texts byte for byte (JSON files: released prompts must reach
    the model unchanged), else surrounding blank space is trimmed (text files and folders)."""
    out: dict[str, str] = {}
    default = mapping.get("*") or mapping.get("default")
    for key, text in mapping.items():
        if key not in _SECTION_KEYS:
            raise InputError(f"{source}: unknown prompt key {key!r}; use chart, table, svg, system or *")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{source}: prompt {key!r} must be a non-empty string")
    def clean(text: str) -> str:
        return text if exact else text.strip()

    for task in TASKS:
        if mapping.get(task):
            out[task] = clean(mapping[task])
        elif default:
            out[task] = clean(default)
    for key in ["system", *(f"system.{t}" for t in TASKS)]:
        if mapping.get(key):
            out[key] = clean(mapping[key])
    if not any(t in out for t in TASKS):
        raise InputError(f"{source}: no prompt for any task (chart, table, svg)")
    return out


def load_prompt_file(path: str | Path) -> dict[str, str]:
    """Read prompts from ``path`` (see the module docstring). Keys: tasks, plus ``system`` if given.

    Tasks the file does not cover keep the built-in prompt when used through :class:`VLMJudge`.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"no such prompt file: {p}")
    if p.is_dir():
        mapping = {}
        for key in (*TASKS, "system", *(f"system.{t}" for t in TASKS)):
            f = p / f"{key}.txt"
            if f.is_file():
                mapping[key] = f.read_text(encoding="utf-8")
        return _finish(mapping, str(p))
    from ..inputs import read_input_text

    try:
        text = read_input_text(p, "--prompt-file")  # a regular file (a FIFO or device is refused, exit 2)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read prompt file {p}: {exc}") from None
    if not text.strip():
        raise InputError(f"empty prompt file: {p}")
    if p.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"prompt file {p} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"prompt file {p} must hold a JSON object mapping tasks to prompts")
        return _finish(data, str(p), exact=True)
    return _finish(_sections(text), str(p))


def _sections(text: str) -> dict[str, str]:
    current: str | None = None
    chunks: dict[str, list[str]] = {}
    preamble: list[str] = []
    for line in text.splitlines():
        head = line.strip().lower()
        if head.startswith("[") and head.endswith("]") and head[1:-1].strip() in _SECTION_KEYS:
            current = head[1:-1].strip()
            chunks.setdefault(current, [])
            continue
        (chunks[current] if current else preamble).append(line)
    if not chunks:
        return {"*": text}
    return {k: "\n".join(v) for k, v in chunks.items() if "\n".join(v).strip()}


#: Where the released Visual-ERM code (InternLM/Visual-ERM) builds each judge prompt: (file, kind, name).
#: ``constant``: a module-level string; ``function``: the string a function builds and returns.
VISUAL_ERM_PROMPT_SOURCES: dict[str, tuple[str, str, str]] = {
    "chart": ("rl_scripts/reward_func/reward_utils.py", "constant", "PROMPT_CHART2CODE_JUDGEMENT"),
    "svg": ("rl_scripts/reward_func/reward_utils.py", "constant", "PROMPT_IMG2SVG_JUDGEMENT"),
    "table": ("rl_scripts/reward_func/table_parse_rm_v2.py", "function", "build_error_prompt_for_images"),
}
#: The prompts of the released VC-RewardBench judge script (``evaluation/api_judge.py``).
VISUAL_ERM_BENCH_SOURCES: dict[str, tuple[str, str, str]] = {
    task: ("evaluation/api_judge.py", "function", f"build_prompt_for_{task}") for task in TASKS
}
#: Kept for callers of the old name: the names the released code uses for each task's prompt.
VISUAL_ERM_PROMPT_NAMES = {task: src[2] for task, src in VISUAL_ERM_PROMPT_SOURCES.items()}
#: The released table reward code sends this system prompt (read from the code when it is there).
VISUAL_ERM_TABLE_SYSTEM = "You are a helpful assistant."


def _module(path: Path) -> Any:
    import ast

    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError) as exc:
        raise InputError(f"cannot parse {path}: {exc.__class__.__name__}") from None


def _string(node: Any) -> str | None:
    import ast

    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None
    return value if isinstance(value, str) and value.strip() else None


def _constant(tree: Any, name: str) -> str | None:
    """The last module-level ``NAME = "..."`` (later assignments win, as when Python runs the file)."""
    import ast

    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found = _string(node.value) or found
    return found


def _function_result(tree: Any, name: str) -> str | None:
    """The string the last top-level ``def NAME()`` returns: a literal, or a local assigned a literal."""
    import ast

    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if not funcs:
        return None
    local: dict[str, str] = {}
    for node in ast.walk(funcs[-1]):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            text = _string(node.value)
            if text is not None:
                local[node.targets[0].id] = text
    for node in ast.walk(funcs[-1]):
        if isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Name) and node.value.id in local:
                return local[node.value.id]
            text = _string(node.value)
            if text is not None:
                return text
    return None


def _call_time_prefix(tree: Any, builder: str) -> str:
    """The literal the code puts in front of ``builder()``'s prompt at call time
    (``prompt = "<image>\n<image>\n" + prompt``), or ``""``."""
    import ast

    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        built = {t.id for n in ast.walk(func) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                 and isinstance(n.value.func, ast.Name) and n.value.func.id == builder
                 for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(func):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp)
                    and isinstance(node.value.op, ast.Add) and isinstance(node.value.right, ast.Name)
                    and node.value.right.id in built):
                prefix = _string(node.value.left)
                if prefix is not None:
                    return prefix
    return ""


def _system_message(tree: Any) -> str | None:
    """The content of a ``{"role": "system", "content": "..."}`` literal in the file."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = {_string(k): v for k, v in zip(node.keys, node.values) if k is not None}
            if "role" in pairs and _string(pairs["role"]) == "system" and "content" in pairs:
                return _string(pairs["content"])
    return None


def _extract(root: Path, sources: dict[str, tuple[str, str, str]], system_for: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    trees: dict[str, Any] = {}
    for task, (rel, kind, name) in sources.items():
        path = root / rel
        if not path.is_file():
            continue
        tree = trees.setdefault(rel, _module(path))
        if kind == "constant":
            text = _constant(tree, name)
        else:
            text = _function_result(tree, name)
            if text is not None:
                text = _call_time_prefix(tree, name) + text
        if text is None:
            continue
        found[task] = text
        if task in system_for:
            system = _system_message(tree)
            if system:
                found[f"system.{task}"] = system
    return found


def extract_visual_erm_prompts(checkout: str | Path, bench: bool = False) -> dict[str, str]:
    """Read the released judge prompts out of a local InternLM/Visual-ERM checkout (no download).

    Reward prompts (default): chart and SVG are module constants of ``rl_scripts/reward_func/reward_utils.py``
    (sent with no system message); the table prompt is what ``build_error_prompt_for_images()`` in
    ``table_parse_rm_v2.py`` returns, with the ``"<image>\n<image>\n"`` prefix its caller adds, and that
    file's system message. ``bench=True``: the VC-RewardBench prompts of ``evaluation/api_judge.py`` (same
    prefix, its system message for every task). Texts are kept byte for byte (the wire request must
    match). Returns a prompt-file mapping, ready for ``json.dump`` and ``--prompt-file``.
    """
    root = Path(checkout).expanduser()
    if not root.is_dir():
        raise InputError(f"not a folder: {root} (clone https://github.com/InternLM/Visual-ERM first)")
    if bench:
        found = _extract(root, VISUAL_ERM_BENCH_SOURCES, ())
        system = _system_message(_module(root / "evaluation/api_judge.py")) if found else None
        if system:
            found["system"] = system
    else:
        found = _extract(root, VISUAL_ERM_PROMPT_SOURCES, ("table",))
    if not any(t in found for t in TASKS):
        wanted = VISUAL_ERM_BENCH_SOURCES if bench else VISUAL_ERM_PROMPT_SOURCES
        raise InputError(f"no Visual-ERM judge prompts found under {root} (looked for "
                         + ", ".join(f"{name} in {rel}" for rel, _, name in wanted.values()) + ")")
    return found


#: Where the released VC-RewardBench evaluation builds its LLM matcher's prompt: an f-string in this function.
VISUAL_ERM_MATCHER_SOURCE = ("evaluation/evaluation.py", "build_llm_prompt")
#: The names that f-string may format, each filled by :func:`erm_cli.bench.matching` with the value the
#: released code computes (the task, its allowed types, the predicted and the gold error rows).
MATCHER_FIELDS = ("category", "allowed_types", "pred_list", "gt_list")


@dataclass(frozen=True)
class TemplateField:
    """One ``{...}`` of a released f-string: a name, optionally through ``json.dumps(name, **kwargs)``."""

    name: str
    json_kwargs: tuple[tuple[str, Any], ...] | None = None
    conversion: int = -1  # ast.FormattedValue.conversion: -1 none, ord("s"), ord("r"), ord("a")

    def render(self, value: Any) -> Any:
        if self.json_kwargs is not None:
            value = json.dumps(value, **dict(self.json_kwargs))
        return {ord("r"): repr, ord("a"): ascii, ord("s"): str}.get(self.conversion, format)(value)


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt the released code builds with an f-string, read from a checkout at run time (erm ships
    none of its text): literal pieces and :class:`TemplateField` s, and whether the code ``.strip()`` s it."""

    parts: tuple[str | TemplateField, ...]
    strip: bool
    source: str
    digest: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.name for p in self.parts if isinstance(p, TemplateField)))

    def render(self, values: dict[str, Any]) -> str:
        text = "".join(p if isinstance(p, str) else p.render(values[p.name]) for p in self.parts)
        return text.strip() if self.strip else text


def _template_field(node: Any, allowed: tuple[str, ...]) -> TemplateField:
    """A ``FormattedValue`` the renderer can fill: ``{name}`` or ``{json.dumps(name, k=literal, ...)}``."""
    import ast

    value = node.value
    if node.format_spec is not None:
        raise ValueError(f"a format spec in {{{ast.unparse(value)}}}")
    if isinstance(value, ast.Name):
        name, json_kwargs = value.id, None
    elif (isinstance(value, ast.Call) and ast.unparse(value.func) == "json.dumps" and len(value.args) == 1
          and isinstance(value.args[0], ast.Name) and all(k.arg for k in value.keywords)):
        name = value.args[0].id
        json_kwargs = tuple((k.arg, ast.literal_eval(k.value)) for k in value.keywords)
    else:
        raise ValueError(f"an expression erm cannot fill: {{{ast.unparse(value)}}}")
    if name not in allowed:
        raise ValueError(f"an unknown field {{{name}}}")
    return TemplateField(name=name, json_kwargs=json_kwargs, conversion=node.conversion)


def extract_fstring_template(path: Path, function: str, allowed: tuple[str, ...]) -> PromptTemplate:
    """The f-string prompt that the last top-level ``def function(...)`` of ``path`` assigns and returns
    (``prompt = f\"\"\"...\"\"\".strip()``; ``return prompt``). Raises ValueError with the reason."""
    import ast
    import hashlib

    tree = _module(path)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    if not funcs:
        raise ValueError(f"no function {function}() in {path.name}")
    returned = {n.value.id for n in ast.walk(funcs[-1]) if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)}
    found: tuple[ast.JoinedStr, bool] | None = None
    for node in funcs[-1].body:  # the function's own statements (not those of a nested helper)
        value = None
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in returned for t in node.targets):
            value = node.value
        elif isinstance(node, ast.Return):
            value = node.value
        if isinstance(value, ast.JoinedStr):
            found = (value, False)
        elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "strip"
              and not value.args and isinstance(value.func.value, ast.JoinedStr)):
            found = (value.func.value, True)
    if found is None:
        raise ValueError(f"{function}() in {path.name} returns no f-string prompt")
    joined, strip = found
    parts: list[str | TemplateField] = []
    for piece in joined.values:
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
            parts.append(piece.value)
        elif isinstance(piece, ast.FormattedValue):
            parts.append(_template_field(piece, allowed))
        else:
            raise ValueError(f"an f-string piece erm cannot read: {ast.unparse(piece)}")
    blob = json.dumps([p if isinstance(p, str) else [p.name, p.json_kwargs, p.conversion] for p in parts] + [strip])
    return PromptTemplate(parts=tuple(parts), strip=strip, source=f"{path.name}:{function}",
                          digest=hashlib.sha256(blob.encode()).hexdigest()[:12])


def extract_visual_erm_matcher(checkout: str | Path) -> PromptTemplate:
    """The released VC-RewardBench LLM matcher prompt (``build_llm_prompt`` in ``evaluation/evaluation.py``)
    read from a local InternLM/Visual-ERM checkout, as a template erm fills with each item's errors.
    Raises :class:`InputError` with the reason when the checkout does not hold it in a form erm can fill."""
    root = Path(checkout).expanduser()
    rel, function = VISUAL_ERM_MATCHER_SOURCE
    path = root / rel
    if not path.is_file():
        raise InputError(f"no {rel} under {root} (a clone of InternLM/Visual-ERM)")
    try:
        template = extract_fstring_template(path, function, MATCHER_FIELDS)
    except ValueError as exc:
        raise InputError(f"{rel}: {exc}") from None
    missing = [f for f in ("pred_list", "gt_list") if f not in template.fields]
    if missing:
        raise InputError(f"{rel}: {function}() does not format {', '.join(missing)}")
    return template


def _main(argv: list[str] | None = None) -> int:
    """``python -m erm_cli.judges.prompts CHECKOUT [-o prompts.json]``: write the released prompts as a
    prompt file; without a checkout, print the built-in prompts."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m erm_cli.judges.prompts",
                                     description="Write judge prompts as an erm prompt file (JSON).")
    parser.add_argument("checkout", nargs="?", help="a local clone of InternLM/Visual-ERM (else: built-ins)")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--bench", action="store_true",
                        help="the VC-RewardBench prompts (evaluation/api_judge.py) instead of the reward prompts")
    args = parser.parse_args(argv)
    try:
        prompts = extract_visual_erm_prompts(args.checkout, bench=args.bench) if args.checkout else builtin_prompts()
    except InputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    text = json.dumps(prompts, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {', '.join(k for k in prompts)} to {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
