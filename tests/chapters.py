"""The book's chapters as the tests see them: the notebooks listed in _toc.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _files(node) -> list[str]:
    found = [node["file"]] if isinstance(node, dict) and "file" in node else []
    children = node.get("parts", []) + node.get("chapters", []) + node.get("sections", []) \
        if isinstance(node, dict) else node
    for child in children if isinstance(children, list) else []:
        found += _files(child)
    return found


def toc_documents() -> list[Path]:
    """Every document of the book, in order, as a path to its .md file."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [ROOT / f"{name}.md" for name in [toc["root"], *_files(toc)]]


def notebook_chapters() -> list[Path]:
    """The documents that are jupytext notebooks (they carry a jupytext header)."""
    def has_jupytext_header(text: str) -> bool:
        return text.startswith("---") and "jupytext:" in text.split("---")[1]

    return [path for path in toc_documents() if has_jupytext_header(path.read_text())]
