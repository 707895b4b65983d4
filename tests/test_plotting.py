"""The house style and savefig."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

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
