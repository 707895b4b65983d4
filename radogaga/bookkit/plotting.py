"""One figure style for the book, and `savefig` for lecture notes (PDF, SVG, PNG).

In a notebook, `use_style` also makes the book's figures PNGs that record the pixel height of
their smallest text (`inline_png`), so that the book's browser check can tell how large that
text is on the page, whatever the figure's width.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.text import Text

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


TEXT_PX_KEY = "radogaga-smallest-text-px"  # PNG text chunk: the smallest text's height in the PNG's pixels


def smallest_text_pt(fig: Figure) -> float:
    """The size (points) of the smallest visible, non-empty text of `fig`: tick labels, labels, legends."""
    sizes = [text.get_fontsize() for text in fig.findobj(Text) if text.get_visible() and text.get_text().strip()]
    return float(min(sizes)) if sizes else 0.0


def inline_png(fig: Figure) -> bytes:
    """`fig` as the book shows it (PNG at the figure's dpi, tight box), with the height in pixels
    of its smallest text in the PNG's metadata (TEXT_PX_KEY)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight",
                metadata={TEXT_PX_KEY: f"{smallest_text_pt(fig) * fig.dpi / 72:.2f}"})
    return buffer.getvalue()


def use_style() -> None:
    """Apply the house style (seaborn whitegrid, notebook context, colour-blind-safe palette); in
    a notebook, show figures as `inline_png` makes them."""
    sns.set_theme(context="notebook", style="whitegrid", palette=list(PALETTE), rc=_RC)
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: no notebook to show figures in
        return
    shell = get_ipython()
    if shell is not None:
        from matplotlib import pyplot
        pyplot.switch_backend(pyplot.get_backend())  # loads the (lazily chosen) backend, which registers its formatter
        shell.display_formatter.formatters["image/png"].for_type(Figure, inline_png)


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
