"""The book's chapters as the tests see them: the notebooks listed in _toc.yml."""

from __future__ import annotations

from pathlib import Path

from radogaga.bookkit import book

ROOT = Path(__file__).resolve().parent.parent


def toc_documents() -> list[Path]:
    """Every document of the book, in order, as a path to its .md file."""
    return book.toc_documents(ROOT)


def notebook_chapters() -> list[Path]:
    """The documents that are jupytext notebooks (they carry a jupytext header)."""
    return book.notebook_chapters(ROOT)
