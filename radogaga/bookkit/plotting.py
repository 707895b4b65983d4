"""One figure style for the book, and `savefig` for lecture notes (PDF, SVG, PNG).

A wide figure is drawn smaller than its natural size in the book's text column, and its text
with it. `legible` enlarges any text that would be drawn below MIN_TEXT_PX there; the book's
figures (`inline_png`) and the files `savefig` writes both pass through it, so the gallery shows
what the chapter shows. A figure that sets a layout engine (``layout="tight"`` or
``"constrained"``) is laid out again around its larger text. In a notebook, `use_style` makes
the book's figures PNGs that record the pixel height of their smallest text, so that the book's
browser check can tell how large that text is on the page.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib
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
COLUMN_PX = 660  # the width the book's theme gives a figure at a 1280 px window (measured in Chromium)
MIN_TEXT_PX = 9.0  # the smallest text a reader should have to read there
_MARGIN = 1.02  # aim a little above MIN_TEXT_PX: the tight box moves by a pixel when text grows


def _texts(fig: Figure) -> list[Text]:
    return [text for text in fig.findobj(Text) if text.get_visible() and text.get_text().strip()]


def smallest_text_pt(fig: Figure) -> float | None:
    """The size (points) of the smallest visible, non-empty text of `fig`: tick labels, labels,
    legends, annotations; None for a figure without text."""
    sizes = [text.get_fontsize() for text in _texts(fig)]
    return float(min(sizes)) if sizes else None


def shown_width_px(fig: Figure) -> float:
    """The width in pixels of `fig` as the book's PNG (figure dpi, tight box with savefig's padding)."""
    fig.canvas.draw()  # runs the figure's layout engine, if it has one
    pad = float(matplotlib.rcParams["savefig.pad_inches"])
    return (fig.get_tightbbox().width + 2 * pad) * fig.dpi


def legible(fig: Figure, column_px: float = COLUMN_PX, min_px: float = MIN_TEXT_PX) -> Figure:
    """Enlarge every text of `fig` that would be drawn below `min_px` pixels once the figure is
    scaled down to a `column_px` wide column; text already large enough keeps its size."""
    for _ in range(4):  # growing text can widen the tight box a little: converge on it
        scale = min(1.0, column_px / shown_width_px(fig))
        need_pt = min_px * _MARGIN / scale * 72 / fig.dpi
        small = [text for text in _texts(fig) if text.get_fontsize() < need_pt / _MARGIN]
        if not small:
            return fig
        for ax in fig.axes:  # tick labels are remade on draw from the axis' own settings
            for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
                if any(label.get_fontsize() < need_pt for label in axis.get_ticklabels(which="both")):
                    ax.tick_params(axis=name, which="both", labelsize=need_pt)
        for text in small:
            text.set_fontsize(max(text.get_fontsize(), need_pt))
    return fig


def inline_png(fig: Figure) -> bytes:
    """`fig` as the book shows it (`legible`, PNG at the figure's dpi, tight box), with the height
    in pixels of its smallest text in the PNG's metadata (TEXT_PX_KEY) when it has text."""
    legible(fig)
    smallest = smallest_text_pt(fig)
    metadata = {} if smallest is None else {TEXT_PX_KEY: f"{smallest * fig.dpi / 72:.2f}"}
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", metadata=metadata)
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
    """Write `name`.pdf, .svg and .png (PNG at 200 dpi, tight box) atomically, with text as
    `legible` makes it; the figure stays open."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"figure name {name!r} is not allowed: use lowercase letters, digits, '-' and '_' only")
    legible(fig)
    folder = Path(directory) if directory is not None else paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in FORMATS:
        path = folder / f"{name}.{fmt}"
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=PNG_DPI, bbox_inches="tight", metadata=_METADATA[fmt])
        written[fmt] = path
    return written
