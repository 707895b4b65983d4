"""One figure style for the book, and `savefig` for lecture notes (PDF, SVG, PNG)."""

from __future__ import annotations

import re
from pathlib import Path

import seaborn as sns
from matplotlib.figure import Figure

from radogaga.infra import paths
from radogaga.infra.files import atomic_write

# Okabe & Ito's colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

method_colors: dict[str, str] = {
    "RaDOGAGA(d)": "#0072B2",
    "RaDOGAGA(log(d))": "#009E73",
    "DAGMM": "#D55E00",
    "beta-VAE": "#CC79A7",
    "PCA": "#E69F00",
    "AE": "#56B4E9",
}

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 200
_NAME = re.compile(r"[a-z0-9_-]+")
# No timestamps in the files, so an unchanged figure gives unchanged bytes.
_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}
_RC = {
    "figure.dpi": 110,
    "savefig.dpi": PNG_DPI,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "pdf.fonttype": 42,
    "svg.hashsalt": "radogaga",
}


def use_style() -> None:
    """Apply the house style (seaborn whitegrid, notebook context, colour-blind-safe palette)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=list(PALETTE), rc=_RC)


def savefig(fig: Figure, name: str, directory: Path | None = None) -> dict[str, Path]:
    """Write `name`.pdf, .svg and .png (PNG at 200 dpi, tight box) atomically; the figure stays open."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"figure name {name!r} is not allowed: use lowercase letters, digits, '-' and '_' only")
    folder = Path(directory) if directory is not None else paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in FORMATS:
        path = folder / f"{name}.{fmt}"
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=PNG_DPI, bbox_inches="tight", metadata=_METADATA[fmt])
        written[fmt] = path
    return written
