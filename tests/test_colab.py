"""Colab, emulated: every chapter's launch button opens its paired notebook, whose first
cell is the same install cell; the data chapter's notebook, in a fresh Python environment
holding only what Colab preinstalls, installs the package with that cell and runs.

The environment: a new virtual environment with torch, numpy, matplotlib, seaborn,
scikit-learn (with scipy), pandas, PyYAML and ipykernel (the kernel of Jupyter); nothing
of the book's own stack (no myst-nb, no jupytext, no pytorch-msssim). A `google.colab`
module is imported at start-up, as in Colab, so the install cell takes its Colab branch;
`RADOGAGA_PIP` points it at this checkout instead of the public repository (no network).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from chapters import ROOT, notebook_chapters

COLAB_PREINSTALLED = ["torch==2.13.0", "numpy", "matplotlib", "seaborn", "scikit-learn", "scipy", "pandas",
                      "PyYAML", "ipykernel", "tqdm", "pillow"]
FULL_RUN = "data"  # run end to end in the emulation: install, then the data sets loaded as a reader would
KERNEL = "radogaga-colab-emulation"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> dict:
    """A fresh environment with Colab's preinstalled packages and a kernel spec for it."""
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = _python(venv)
    for packages in (COLAB_PREINSTALLED[:1], COLAB_PREINSTALLED[1:]):  # torch first: the CPU build
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text('"""Stands in for Colab\'s own module."""\n')
    (site / "colab_emulation.pth").write_text("import google.colab\n")
    kernels = base / "jupyter"
    spec = kernels / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab emulation", "language": "python"}))
    return {"python": python, "jupyter_path": kernels}


def test_the_emulated_colab_lacks_the_books_stack(colab, tmp_path):
    probe = "import importlib.util as u, sys; print([m for m in ('myst_nb', 'jupytext', 'pytorch_msssim', " \
            "'radogaga') if u.find_spec(m)], 'google.colab' in sys.modules)"
    out = subprocess.run([str(colab["python"]), "-c", probe], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout  # not the checkout, whose package would be found
    assert out.strip() == "[] True"


@pytest.mark.book
def test_a_chapter_installs_and_runs_in_emulated_colab(colab, tmp_path, monkeypatch):
    """The data chapter's paired .ipynb (what its launch button opens) installs the package and runs."""
    paired = ROOT / "book" / f"{FULL_RUN}.ipynb"
    notebook = nbformat.read(paired, as_version=4)
    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    monkeypatch.setenv("RADOGAGA_PIP", str(ROOT))
    monkeypatch.setenv("RADOGAGA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    papermill.execute_notebook(notebook, str(tmp_path / paired.name), kernel_name=KERNEL,
                               cwd=str(paired.parent), progress_bar=False)
    installed = subprocess.run([str(colab["python"]), "-c", "import radogaga; print(radogaga.__version__)"],
                               capture_output=True, text=True, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr


@pytest.mark.parametrize("chapter", notebook_chapters(), ids=[p.stem for p in notebook_chapters()])
def test_every_chapter_has_the_same_install_cell(chapter):
    """Every launch button opens a notebook whose first code cell is the one run above."""
    paired = chapter.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} missing: the Colab button would open nothing"
    first = lambda path: next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert first(paired) == first(ROOT / "book" / f"{FULL_RUN}.ipynb")
