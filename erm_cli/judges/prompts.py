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
from pathlib import Path

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


def _finish(mapping: dict[str, str], source: str) -> dict[str, str]:
    out: dict[str, str] = {}
    default = mapping.get("*") or mapping.get("default")
    for key, text in mapping.items():
        if key not in _SECTION_KEYS:
            raise InputError(f"{source}: unknown prompt key {key!r}; use chart, table, svg, system or *")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{source}: prompt {key!r} must be a non-empty string")
    for task in TASKS:
        if mapping.get(task):
            out[task] = mapping[task].strip()
        elif default:
            out[task] = default.strip()
    for key in ["system", *(f"system.{t}" for t in TASKS)]:
        if mapping.get(key):
            out[key] = mapping[key].strip()
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
    try:
        text = p.read_text(encoding="utf-8")
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
        return _finish(data, str(p))
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


#: Names of the judge prompts in the released Visual-ERM reward code (InternLM/Visual-ERM, rl_scripts/).
VISUAL_ERM_PROMPT_NAMES = {"chart": "PROMPT_CHART2CODE_JUDGEMENT", "svg": "PROMPT_IMG2SVG_JUDGEMENT",
                           "table": "PROMPT_TABLE2MARKDOWN_JUDGEMENT"}
#: The released table reward code sends this system prompt; chart and SVG send none.
VISUAL_ERM_TABLE_SYSTEM = "You are a helpful assistant."


def extract_visual_erm_prompts(checkout: str | Path) -> dict[str, str]:
    """Read the released judge prompts out of a local InternLM/Visual-ERM checkout (no download).

    Looks for the module-level string constants named in :data:`VISUAL_ERM_PROMPT_NAMES` in the
    checkout's Python files and returns a prompt-file mapping (with the table system prompt), ready for
    ``json.dump`` and ``--prompt-file``. Tasks whose constant is not found are left out.
    """
    import ast

    root = Path(checkout).expanduser()
    if not root.is_dir():
        raise InputError(f"not a folder: {root} (clone https://github.com/InternLM/Visual-ERM first)")
    wanted = {name: task for task, name in VISUAL_ERM_PROMPT_NAMES.items()}
    found: dict[str, str] = {}
    for py in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(py.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in tree.body:
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in wanted and wanted[target.id] not in found:
                    try:
                        value = ast.literal_eval(node.value)
                    except (ValueError, SyntaxError):
                        continue
                    if isinstance(value, str) and value.strip():
                        found[wanted[target.id]] = value.strip()
    if not found:
        raise InputError(f"no Visual-ERM judge prompts found under {root} "
                         f"(looked for {', '.join(VISUAL_ERM_PROMPT_NAMES.values())})")
    if "table" in found:
        found["system.table"] = VISUAL_ERM_TABLE_SYSTEM
    return found


def _main(argv: list[str] | None = None) -> int:
    """``python -m erm_cli.judges.prompts CHECKOUT [-o prompts.json]``: write the released prompts as a
    prompt file; without a checkout, print the built-in prompts."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m erm_cli.judges.prompts",
                                     description="Write judge prompts as an erm prompt file (JSON).")
    parser.add_argument("checkout", nargs="?", help="a local clone of InternLM/Visual-ERM (else: built-ins)")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    try:
        prompts = extract_visual_erm_prompts(args.checkout) if args.checkout else builtin_prompts()
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
