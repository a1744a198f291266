"""The run viewer: a page per run folder from the aggregate figures down to single pairs (reference,
candidate, diff picture, verdict, gold errors), written as ``index.html`` by batch, bench and refine runs
and served by ``erm view RUN_DIR``. See docs/VIEW.md."""

from __future__ import annotations

from .model import INDEX_HTML, SCHEMA, VIEW_JSON, load_document

__all__ = ["INDEX_HTML", "SCHEMA", "VIEW_JSON", "load_document"]
