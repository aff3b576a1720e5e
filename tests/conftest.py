"""Shared fixtures: the reference folder, tiny synthetic inputs."""
from __future__ import annotations

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
    """``../shared/reference`` beside the clone; tests needing it are skipped when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is not present")
    return REFERENCE
