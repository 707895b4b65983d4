"""Tables the chapters show about the results store: what is stored, at what scale."""

from __future__ import annotations

import dataclasses
import os

import pandas as pd

from . import experiments, results


def experiment_status(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per registered experiment: is a paper-scale result stored, and from where."""
    rows = []
    for name in experiments.names():
        paper = dataclasses.asdict(experiments.get(name).PROFILES["paper"])
        stored = results.load(name, paper, root=root)
        rows.append({
            "experiment": name,
            "paper scale stored": "yes" if stored else "no",
            "provenance": results.provenance_line(stored) if stored else
                          "the book build computes the quick profile",
        })
    return pd.DataFrame(rows).set_index("experiment")
