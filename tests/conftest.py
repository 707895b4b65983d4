"""Shared fixtures: the data folder (RADOGAGA_DATA), an isolated download cache, and the
book's one strict build.

The book is built (and so every chapter executed) once per test run: the build starts in
the background as soon as the tests are collected, the other tests run meanwhile on the
second core, and the tests of the built book run last and wait for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
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


ROOT = Path(__file__).resolve().parent.parent
BOOK_FIXTURES = {"built_book", "served"}


class BookBuild:
    """The strict build of the whole book, run in the background into a scratch folder."""

    def __init__(self) -> None:
        kept = os.environ.get("RADOGAGA_KEEP_BUILD")  # a folder to build into and keep, to look at the pages
        self.kept = bool(kept)
        self.folder = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="radogaga-book-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        env = {**os.environ, "RADOGAGA_FIGURES": str(self.folder / "figures")}
        self.log = open(self.folder / "build.log", "w+")
        self.started, self.wall_time_s = time.perf_counter(), None
        self.process = subprocess.Popen(
            [str(jupyter_book), "build", "--all", "-W", "-n", "--keep-going", "--path-output",
             str(self.folder / "out"), str(ROOT)], stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait(self) -> Path:
        """The built HTML folder once the build has ended; fails with the build's log if it failed."""
        code = self.process.wait()
        if self.wall_time_s is None:
            self.wall_time_s = time.perf_counter() - self.started
        self.log.seek(0)
        log = self.log.read()
        assert code == 0, log[-8000:]
        return self.folder / "out" / "_build" / "html"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        if not self.kept:
            shutil.rmtree(self.folder, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    """Tests of the built book go last, so the other tests run while the book builds."""
    items.sort(key=lambda item: bool(BOOK_FIXTURES & set(getattr(item, "fixturenames", ()))))


def pytest_collection_finish(session):
    if os.environ.get("RADOGAGA_BUILT_BOOK"):
        return
    if any(BOOK_FIXTURES & set(getattr(item, "fixturenames", ())) for item in session.items):
        session.config.book_build = BookBuild()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The book build's wall time, for the README's time expectations (benchmarks/time_ci.py)."""
    build = getattr(config, "book_build", None)
    if build is not None and build.wall_time_s is not None:
        terminalreporter.write_line(f"book build: {build.wall_time_s:.0f} s (executing every chapter once)")


def pytest_sessionfinish(session, exitstatus):
    build = getattr(session.config, "book_build", None)
    if build is not None:
        build.close()


@pytest.fixture(scope="session")
def built_book(request) -> Path:
    """The book built strictly (a warning or a failing cell fails the build, and this test)."""
    if os.environ.get("RADOGAGA_BUILT_BOOK"):  # a developer's earlier build, to check pages without rebuilding
        return Path(os.environ["RADOGAGA_BUILT_BOOK"])
    build = getattr(request.config, "book_build", None) or BookBuild()
    request.config.book_build = build
    return build.wait()
