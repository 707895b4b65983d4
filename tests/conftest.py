"""Shared fixtures: the data folder (RADOGAGA_DATA) and an isolated download cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The offline data folder the tests read (RADOGAGA_DATA must point at it)."""
    root = os.environ.get("RADOGAGA_DATA")
    if not root or not Path(root).is_dir():
        pytest.fail("Set RADOGAGA_DATA to the folder of data copies (see README, 'Data').")
    return Path(root)


@pytest.fixture
def empty_places(tmp_path, monkeypatch) -> Path:
    """No data anywhere and downloads off: RADOGAGA_DATA and the cache point at empty folders."""
    monkeypatch.setenv("RADOGAGA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RADOGAGA_OFFLINE", "1")
    return tmp_path
