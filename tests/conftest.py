"""Shared fixtures: the reference folder, tiny synthetic inputs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # runs without the editable install too
    sys.path.insert(0, str(REPO))

REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory):
    """Runs under test (and the processes they start) keep their rebuildable cache out of the user's home."""
    old = os.environ.get("ANIMATE_PORTRAIT_CACHE")
    os.environ["ANIMATE_PORTRAIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("ANIMATE_PORTRAIT_CACHE", None)
    else:
        os.environ["ANIMATE_PORTRAIT_CACHE"] = old


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` beside the clone.

    Tests needing it are skipped when it is absent, except under ``REQUIRE_REFERENCE=1`` (set by
    ``.ci/run``): there a missing reference fails, so the parity tests cannot pass unseen.
    """
    if not REFERENCE.is_dir():
        if os.environ.get("REQUIRE_REFERENCE") == "1":
            pytest.fail(f"REQUIRE_REFERENCE=1 but {REFERENCE} is not present")
        pytest.skip("../shared/reference is not present")
    return REFERENCE
