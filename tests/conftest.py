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
