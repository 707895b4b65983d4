"""Where the package reads and writes: data cache, stored results, figures."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # radogaga/


def project_root() -> Path | None:
    """The source checkout holding the package, or None when installed elsewhere."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "_toc.yml").is_file() else None


def _from_env_or_project(variable: str, folder: str) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    root = project_root()
    return (root if root is not None else Path.cwd()) / folder


def results_dir() -> Path:
    """Stored results: `RADOGAGA_RESULTS`, else `results/` of the checkout (or of the cwd)."""
    return _from_env_or_project("RADOGAGA_RESULTS", "results")


def figures_dir() -> Path:
    """Figures for lecture notes: `RADOGAGA_FIGURES`, else `figures/` of the checkout (or cwd)."""
    return _from_env_or_project("RADOGAGA_FIGURES", "figures")


def cache_dir() -> Path:
    """Downloaded data: `RADOGAGA_CACHE`, else `$XDG_CACHE_HOME/radogaga` or `~/.cache/radogaga`."""
    if os.environ.get("RADOGAGA_CACHE"):
        return Path(os.environ["RADOGAGA_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "radogaga"
