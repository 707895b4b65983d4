"""The house style and savefig."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

from radogaga.bookkit import plotting  # noqa: E402

MAGIC = {"pdf": (b"%PDF",), "svg": (b"<?xml", b"<svg"), "png": (b"\x89PNG",)}


@pytest.fixture
def figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], color=plotting.method_colors["RaDOGAGA(d)"], label="RaDOGAGA(d)")
    ax.legend()
    yield fig
    plt.close(fig)


def test_use_style_is_idempotent():
    plotting.use_style()
    first = dict(matplotlib.rcParams)
    plotting.use_style()
    assert dict(matplotlib.rcParams) == first
    assert matplotlib.rcParams["figure.dpi"] == 110


def test_method_colors_are_fixed_and_distinct():
    methods = {"DAGMM", "RaDOGAGA(d)", "RaDOGAGA(log(d))", "beta-VAE", "PCA", "AE"}
    assert methods <= set(plotting.method_colors)
    assert len({plotting.method_colors[m] for m in methods}) == len(methods)


def test_savefig_writes_three_formats(tmp_path, figure):
    written = plotting.savefig(figure, "roc-curve_1", tmp_path / "new")
    assert set(written) == {"pdf", "svg", "png"}
    for fmt, path in written.items():
        assert path == tmp_path / "new" / f"roc-curve_1.{fmt}"
        assert path.read_bytes().startswith(MAGIC[fmt])
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == sorted(p.name for p in written.values())
    assert plt.fignum_exists(figure.number)


def test_savefig_default_folder(tmp_path, monkeypatch, figure):
    monkeypatch.setenv("RADOGAGA_FIGURES", str(tmp_path / "figs"))
    assert plotting.savefig(figure, "fig")["png"].parent == tmp_path / "figs"


@pytest.mark.parametrize("name", ["Fig", "a b", "../x", "", "fig.png"])
def test_savefig_bad_name(tmp_path, figure, name):
    with pytest.raises(ValueError, match="lowercase letters, digits"):
        plotting.savefig(figure, name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def shown_text_px(png: bytes) -> float:
    """The smallest text's height in pixels once `png` is drawn at most COLUMN_PX wide, as the
    book's browser check computes it."""
    image = Image.open(io.BytesIO(png))
    return float(image.text[plotting.TEXT_PX_KEY]) * min(1.0, plotting.COLUMN_PX / image.size[0])


def test_legible_enlarges_text_that_a_wide_figure_would_shrink():
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="tight")
    for ax in axes:
        ax.plot([0, 1], [1, 0], label="a line")
        ax.legend(fontsize=7)
        ax.set_xlabel("x", fontsize=11)
    # Without legible, the 7 pt legend of a 12 in figure would be drawn 7 / 72 * 110 * 660 / 1320 = 5.3 px high.
    assert 7 / 72 * fig.dpi * plotting.COLUMN_PX / plotting.shown_width_px(fig) < 6
    shown = shown_text_px(plotting.inline_png(fig))
    assert plotting.MIN_TEXT_PX <= shown <= plotting.MIN_TEXT_PX * 1.1
    # Tick labels made after the fix (a new limit, new ticks) keep the larger size.
    axes[0].set_xlim(0, 7)
    assert shown_text_px(plotting.inline_png(fig)) >= plotting.MIN_TEXT_PX
    plt.close(fig)


def test_legible_leaves_a_figure_that_fits_the_column_alone():
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([0, 1], [1, 0], label="a line")
    ax.legend(fontsize=9)
    sizes = sorted(text.get_fontsize() for text in fig.findobj(Text))
    assert shown_text_px(plotting.inline_png(fig)) == pytest.approx(9 / 72 * fig.dpi, abs=0.01)
    assert sorted(text.get_fontsize() for text in fig.findobj(Text)) == sizes
    plt.close(fig)


def test_a_figure_without_text_records_no_text_size(tmp_path):
    fig = plt.figure(figsize=(10, 2))
    fig.add_axes((0, 0, 1, 1)).set_axis_off()
    assert plotting.TEXT_PX_KEY not in Image.open(io.BytesIO(plotting.inline_png(fig))).text
    plt.close(fig)


def test_savefig_writes_the_legible_figure(tmp_path):
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.set_title("title", fontsize=6)
    plotting.savefig(fig, "wide", tmp_path)
    assert ax.title.get_fontsize() * fig.dpi / 72 * plotting.COLUMN_PX / plotting.shown_width_px(fig) >= 9
    plt.close(fig)
