"""Output formats of ``erm synth``: VC-RewardBench JSONL, pairwise JSONL, SFT chat records, a Hugging Face layout.

- ``data.jsonl`` (always): one VC-RewardBench record per (reference, candidate) pair: ``id``, ``idx``,
  ``category``, ``gt_img_path``, ``pred_img_path``, ``human_errors`` (``category``/``type``,
  ``severity``, ``location``, ``description``, ``bbox`` in reference pixels where known), both codes,
  and synth details (``pair_type``, ``perturbations``, ``group``...). Paths are relative to the file.
- ``pairwise.jsonl`` (always): ``id``, ``category``, ``gt_img_path``, ``chosen_img_path``,
  ``rejected_img_path``; chosen has a strict subset of rejected's errors and a lower severity total.
- ``sft.jsonl`` (``--format sft``): TRL prompt/completion chat records: the judge prompt with both
  images (:func:`erm_cli.judges.prompts.judge_prompt`) and the gold verdict's JSON as the answer
  (:func:`erm_cli.judges.vlm.verdict_to_target_json`), with ``images`` paths.
- ``hf/`` (``--format hf``): Parquet files with embedded images and a dataset card whose ``configs``
  make ``datasets.load_dataset("DIR/hf")`` (pairs) and ``load_dataset("DIR/hf", "pairwise")`` work.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError

FORMATS: tuple[str, ...] = ("vcbench", "sft", "hf")
_TASK_ORDER = ("chart", "table", "svg")


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows atomically (a temporary file renamed over ``path``)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _suffix_rank(record_id: str) -> int:
    suffix = record_id.rsplit("-", 1)[-1]
    if suffix.startswith("p") and suffix[1:].isdigit():
        return int(suffix[1:])
    return {"code": 100, "size": 101}.get(suffix, 200)


def sort_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Task order, then group index, then chain position; ``idx`` is renumbered."""

    def key(r: dict[str, Any]) -> tuple[int, str, int]:
        cat = r.get("category", "")
        return (
            _TASK_ORDER.index(cat) if cat in _TASK_ORDER else 9,
            str(r.get("group", "")),
            _suffix_rank(r["id"]),
        )

    out = sorted(records, key=key)
    for i, r in enumerate(out):
        r["idx"] = i
    return [_ordered(r) for r in out]


_FIRST_KEYS = ("id", "idx", "category", "gt_img_path", "pred_img_path", "human_errors")


def _ordered(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r[k] for k in _FIRST_KEYS if k in r}
    out.update({k: v for k, v in r.items() if k not in out})
    return out


def pairwise_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Preference pairs within each group: chosen's errors are a strict subset of rejected's, and milder."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_group.setdefault(str(r.get("group")), []).append(r)
    pairs = []
    for gid, recs in by_group.items():
        for a in recs:
            for b in recs:
                ea, eb = set(a.get("edit_ids") or []), set(b.get("edit_ids") or [])
                if not (ea < eb) or a["severity_total"] >= b["severity_total"]:
                    continue  # an equivalent or no-op candidate (no errors) is a perfect "chosen"
                pairs.append(
                    {
                        "id": f"{gid}-{a['id'][len(gid) + 1 :]}-vs-{b['id'][len(gid) + 1 :]}",
                        "category": a["category"],
                        "gt_img_path": a["gt_img_path"],
                        "chosen_img_path": a["pred_img_path"],
                        "rejected_img_path": b["pred_img_path"],
                        "chosen_id": a["id"],
                        "rejected_id": b["id"],
                        "chosen_severity": a["severity_total"],
                        "rejected_severity": b["severity_total"],
                        "chosen_errors": len(a["human_errors"]),
                        "rejected_errors": len(b["human_errors"]),
                        "margin": b["severity_total"] - a["severity_total"],
                        "group": gid,
                        "gt_code": a.get("gt_code"),
                        "chosen_code": a.get("pred_code"),
                        "rejected_code": b.get("pred_code"),
                    }
                )
    pairs.sort(
        key=lambda p: (_TASK_ORDER.index(p["category"]) if p["category"] in _TASK_ORDER else 9, p["id"])
    )
    return pairs


# ------------------------------------------------------------------------------- SFT chat records


def sft_record(record: dict[str, Any]) -> dict[str, Any]:
    """A TRL prompt/completion record: [image 1 reference, image 2 candidate, judge prompt] -> gold JSON."""
    from ..judges.prompts import judge_prompt
    from ..judges.verdict import ErrorItem, Verdict
    from ..judges.vlm_output import verdict_to_target_json

    task = record["category"]
    verdict = Verdict(
        task=task, errors=[ErrorItem.from_dict(e, task) for e in record.get("human_errors", [])]
    )
    return {
        "id": record["id"],
        "category": task,
        "images": [record["gt_img_path"], record["pred_img_path"]],
        "prompt": [
            {
                "role": "user",
                "content": [
                    {"type": "image"},
                    {"type": "image"},
                    {"type": "text", "text": judge_prompt(task)},
                ],
            }
        ],
        "completion": [{"role": "assistant", "content": verdict_to_target_json(verdict)}],
    }


# ------------------------------------------------------------------------------- Hugging Face layout

HF_CARD = """---
license: other
task_categories:
- image-text-to-text
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
- config_name: pairwise
  data_files:
  - split: train
    path: pairwise/train-*.parquet
---

# erm synth data

Synthetic (reference, candidate) pairs for visual-equivalence judges, generated by `erm synth`
with gold error labels (Visual-ERM taxonomy: category, severity 1-3, location, description).

    from datasets import load_dataset
    pairs = load_dataset("{path}")                 # gt_image, pred_image, human_errors, codes
    prefs = load_dataset("{path}", "pairwise")     # gt_image, chosen_image, rejected_image

Icons in SVG pairs come from Bootstrap Icons (MIT), Feather (MIT) and Lucide (ISC); see the
licences shipped with erm (erm_cli/data/icons).
"""


def _image(base: Path, rel: str) -> dict[str, Any]:
    p = base / rel
    return {"bytes": p.read_bytes(), "path": Path(rel).name}


def write_hf(out: Path, records: list[dict[str, Any]], pairs: list[dict[str, Any]]) -> Path:
    """``out/hf``: Parquet shards with embedded PNGs and a dataset card with two configs."""
    try:
        import datasets
        from datasets import Dataset, Features, Image, Value
    except ImportError:
        raise InputError("--format hf needs the 'datasets' package (pip install 'erm-cli[ml]')") from None
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # erm shows its own progress
    try:
        return _write_hf(out, records, pairs, Dataset, Features, Image, Value)
    finally:
        if bars:
            datasets.enable_progress_bars()


def _write_hf(
    out: Path,
    records: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    Dataset: Any,
    Features: Any,
    Image: Any,
    Value: Any,
) -> Path:
    hf = out / "hf"
    (hf / "data").mkdir(parents=True, exist_ok=True)
    (hf / "pairwise").mkdir(parents=True, exist_ok=True)
    error = {
        "category": Value("string"),
        "severity": Value("int32"),
        "location": Value("string"),
        "description": Value("string"),
    }
    features = Features(
        {
            "id": Value("string"),
            "category": Value("string"),
            "gt_image": Image(),
            "pred_image": Image(),
            "human_errors": [error],
            "gt_code": Value("string"),
            "pred_code": Value("string"),
            "kind": Value("string"),
            "pair_type": Value("string"),
            "severity_total": Value("int32"),
            "source": Value("string"),
            "group": Value("string"),
        }
    )
    rows = [
        {
            "id": r["id"],
            "category": r["category"],
            "gt_image": _image(out, r["gt_img_path"]),
            "pred_image": _image(out, r["pred_img_path"]),
            "human_errors": [{k: e[k] for k in error} for e in r["human_errors"]],
            "gt_code": r["gt_code"],
            "pred_code": r["pred_code"],
            "kind": r["kind"],
            "pair_type": r["pair_type"],
            "severity_total": r["severity_total"],
            "source": r["source"],
            "group": r["group"],
        }
        for r in records
    ]
    Dataset.from_list(rows, features=features).to_parquet(str(hf / "data" / "train-00000-of-00001.parquet"))
    pfeatures = Features(
        {
            "id": Value("string"),
            "category": Value("string"),
            "gt_image": Image(),
            "chosen_image": Image(),
            "rejected_image": Image(),
            "chosen_severity": Value("int32"),
            "rejected_severity": Value("int32"),
            "chosen_code": Value("string"),
            "rejected_code": Value("string"),
            "group": Value("string"),
        }
    )
    prow = [
        {
            "id": p["id"],
            "category": p["category"],
            "gt_image": _image(out, p["gt_img_path"]),
            "chosen_image": _image(out, p["chosen_img_path"]),
            "rejected_image": _image(out, p["rejected_img_path"]),
            "chosen_severity": p["chosen_severity"],
            "rejected_severity": p["rejected_severity"],
            "chosen_code": p["chosen_code"],
            "rejected_code": p["rejected_code"],
            "group": p["group"],
        }
        for p in pairs
    ]
    if prow:
        Dataset.from_list(prow, features=pfeatures).to_parquet(
            str(hf / "pairwise" / "train-00000-of-00001.parquet")
        )
    (hf / "README.md").write_text(HF_CARD.replace("{path}", str(hf)), encoding="utf-8")
    return hf


def write_format(
    name: str, out: Path, records: list[dict[str, Any]], pairs: list[dict[str, Any]]
) -> Path | None:
    if name == "vcbench":
        return None  # data.jsonl and pairwise.jsonl are always written
    if name == "sft":
        path = out / "sft.jsonl"
        write_jsonl(path, (sft_record(r) for r in records))
        return path
    if name == "hf":
        return write_hf(out, records, pairs)
    raise InputError(f"unknown format {name!r}; choose from: {', '.join(FORMATS)}")


def write_manifest(
    cfg: Any,
    stats: Any,
    targets: dict[str, int],
    *,
    running: bool,
    n_pairs: int = 0,
    formats: Iterable[str] = (),
) -> None:
    from .. import __version__

    manifest = {
        "tool": "erm synth",
        "erm_version": __version__,
        "status": "running" if running else "complete",
        "config": cfg.identity(),
        "n": cfg.n,
        "targets": targets,
        "pairwise": n_pairs,
        "formats": ["vcbench", *[f for f in formats if f != "vcbench"]],
        "files": {
            "data": "data.jsonl",
            "pairwise": "pairwise.jsonl",
            "failures": "failures.jsonl",
            **({"sft": "sft.jsonl"} if "sft" in formats else {}),
            **({"hf": "hf/"} if "hf" in formats else {}),
        },
        "stats": stats.to_dict(),
    }
    path = cfg.out / "manifest.json"
    tmp = path.with_name("manifest.json.tmp")
    from ..schemas import stamp

    tmp.write_text(json.dumps(stamp(manifest), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
