"""Test setup shared by every test.

- Nothing a test does touches the repository's progress.toml, the user's
  data or compilation caches or ./runs: FDL_PROGRESS, FDL_DATA_DIR,
  FDL_JAX_CACHE and FDL_RUNS_DIR point into a temporary folder, and the
  session fails if progress.toml changed.
- Tests of topic N carry the marker ``topicNN`` (from their file name,
  ``test_tNN_*.py``), so ``pytest -m topic03`` selects one topic.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from fdl.curriculum import TOPICS

REPO = Path(__file__).resolve().parent.parent
REPO_PROGRESS = REPO / "progress.toml"


def pytest_configure(config):
    for topic in TOPICS:
        config.addinivalue_line("markers", f"topic{topic.number:02d}: tests of {topic.label} ({topic.title})")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "sweep: the references against their checks over many seeds (FDL_SWEEP_SEEDS)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        match = re.match(r"test_t(\d\d)_", Path(str(item.fspath)).name)
        if match:
            item.add_marker(getattr(pytest.mark, f"topic{match.group(1)}"))


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="session", autouse=True)
def isolated_paths(tmp_path_factory):
    """Point every fdl path at a temporary folder; fail if progress.toml changed anyway."""
    base = tmp_path_factory.mktemp("fdl")
    before = _digest(REPO_PROGRESS)
    saved = {k: os.environ.get(k) for k in ("FDL_PROGRESS", "FDL_DATA_DIR", "FDL_RUNS_DIR", "FDL_OFFLINE",
                                            "FDL_JAX_CACHE")}
    os.environ["FDL_PROGRESS"] = str(base / "progress.toml")
    os.environ["FDL_DATA_DIR"] = str(base / "data")
    os.environ["FDL_RUNS_DIR"] = str(base / "runs")
    os.environ["FDL_OFFLINE"] = "1"  # no test reaches the internet
    os.environ["FDL_JAX_CACHE"] = str(base / "jax")  # compiled oracles shared by the runs of this session
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert _digest(REPO_PROGRESS) == before, "a test wrote the repository's own progress.toml"


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    """A fresh progress file path for one test (FDL_PROGRESS points at it)."""
    path = tmp_path / "progress.toml"
    monkeypatch.setenv("FDL_PROGRESS", str(path))
    return path
