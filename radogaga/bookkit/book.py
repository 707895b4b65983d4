"""The book as the package sees it: its documents in table-of-contents order, each chapter's
title and label, and the figures each chapter makes (label, caption, file name).

Read from the sources (`_toc.yml` and the MyST notebooks), so the gallery and the tests
always list what the chapters really contain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from radogaga.infra import paths

_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_SAVEFIG = re.compile(r"""plotting\.savefig\(\s*fig\s*,\s*f["']\{figure_prefix\}-([\w-]+)["']""")
_PREFIX = re.compile(r"""^figure_prefix\s*=\s*["']([\w-]+)["']""", re.M)
_LABEL_TITLE = re.compile(r"^\((chap-[\w-]+)\)=\n# (.+)$", re.M)


@dataclass(frozen=True)
class BookFigure:
    """One figure of a chapter: its label, caption and the stem of its PDF/SVG/PNG files."""

    chapter: Path
    label: str
    caption: str
    stem: str


def root() -> Path:
    """The book's source folder (the checkout holding `_toc.yml`)."""
    found = paths.project_root()
    if found is None:
        raise FileNotFoundError("the book's sources (_toc.yml) are not beside the package; "
                                "run from a checkout of the book's repository.")
    return found


def _files(node) -> list[str]:
    found = [node["file"]] if isinstance(node, dict) and "file" in node else []
    children = node.get("parts", []) + node.get("chapters", []) + node.get("sections", []) \
        if isinstance(node, dict) else node
    for child in children if isinstance(children, list) else []:
        found += _files(child)
    return found


def toc_documents(book_root: Path | None = None) -> list[Path]:
    """Every document of the book, in order, as a path to its .md file."""
    base = book_root or root()
    toc = yaml.safe_load((base / "_toc.yml").read_text())
    return [base / f"{name}.md" for name in [toc["root"], *_files(toc)]]


def is_notebook(path: Path) -> bool:
    """True for a jupytext notebook (a MyST file with a jupytext header)."""
    front = _FRONT.match(path.read_text())
    return bool(front) and "jupytext:" in front.group(1)


def notebook_chapters(book_root: Path | None = None) -> list[Path]:
    """The documents that are notebooks, in the book's order."""
    return [path for path in toc_documents(book_root) if is_notebook(path)]


def chapter_label_and_title(path: Path) -> tuple[str, str]:
    """The chapter's `(chap-...)=` label and its title."""
    match = _LABEL_TITLE.search(path.read_text())
    if match is None:
        raise ValueError(f"{path.name} has no '(chap-...)=' label right above its '# ' title.")
    return match.group(1), match.group(2).strip()


def figures(path: Path) -> list[BookFigure]:
    """The numbered figures of one chapter, in order, with the file stem each is saved under."""
    text = path.read_text()
    prefix = _PREFIX.search(text)
    found = []
    for cell in _CELL.findall(text):
        front = _FRONT.match(cell)
        meta = yaml.safe_load(front.group(1)) if front else None
        figure = (meta or {}).get("mystnb", {}).get("figure") if isinstance(meta, dict) else None
        if not figure:
            continue
        saved = _SAVEFIG.search(cell)
        if saved is None or prefix is None:
            raise ValueError(f"figure {figure.get('name')!r} of {path.name} is not saved with "
                             "plotting.savefig(fig, f\"{figure_prefix}-...\").")
        found.append(BookFigure(path, figure["name"], " ".join(str(figure["caption"]).split()),
                                f"{prefix.group(1)}-{saved.group(1)}"))
    return found
