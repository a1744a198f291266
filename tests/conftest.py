"""Shared test fixtures: an isolated erm cache per test session and paths to real data."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# One throw-away cache for the whole run, set before any erm module reads it.
_CACHE = tempfile.mkdtemp(prefix="erm-test-cache-")
os.environ["ERM_CACHE_DIR"] = _CACHE
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models are faster on one thread, and the suite runs on 2-core machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    from erm_cli.config import shared_data_dir

    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not beside this checkout")
    return d


@pytest.fixture(scope="session")
def has_chromium() -> bool:
    return shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None


@pytest.fixture(scope="session")
def has_tesseract() -> bool:
    return shutil.which("tesseract") is not None
