"""The book's citation, from its CITATION.cff (the one source of the book's metadata)."""

from __future__ import annotations

import os
import re

import yaml

REQUIRED = ("cff-version", "message", "title", "authors", "version", "date-released")


def read(path: str | os.PathLike) -> dict:
    """The CITATION.cff record, checked for the fields the book relies on."""
    record = yaml.safe_load(open(path, encoding="utf-8"))
    missing = [key for key in REQUIRED if not record or key not in record]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; see https://citation-file-format.github.io.")
    return record


def _person(author: dict) -> str:
    if "name" in author:
        return "{" + author["name"] + "}"
    return f"{author['family-names']}, {author['given-names']}"


def bibtex(path: str | os.PathLike) -> str:
    """A BibTeX @software entry of the book."""
    record = read(path)
    year = str(record["date-released"])[:4]
    key = re.sub(r"[^a-z0-9]+", "_", record["title"].split(":")[0].lower()).strip("_") + f"_{year}"
    fields = {
        "title": "{" + record["title"] + "}",
        "author": " and ".join(_person(a) for a in record["authors"]),
        "year": year,
        "version": record["version"],
        "url": record.get("repository-code", record.get("url", "")),
        "license": record.get("license", ""),
    }
    body = ",\n".join(f"  {name:<8}= {{{value}}}" for name, value in fields.items() if value)
    return f"@software{{{key},\n{body}\n}}"
