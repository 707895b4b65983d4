"""Colab, emulated: every chapter's launch button opens its paired notebook, and that
notebook, in a fresh Python environment holding only what Colab preinstalls, installs the
package with its own first cell and runs at its quick parameters.

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
FULL_RUNS = ("data", "toy")  # end to end (data and training); the others up to their first use of the package
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


def _until_first_package_use(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook's cells up to and including the first one that imports the package."""
    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell.cell_type == "code" and "from radogaga" in cell.source:
            break
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata)


def test_the_emulated_colab_lacks_the_books_stack(colab, tmp_path):
    probe = "import importlib.util as u, sys; print([m for m in ('myst_nb', 'jupytext', 'pytorch_msssim', " \
            "'radogaga') if u.find_spec(m)], 'google.colab' in sys.modules)"
    out = subprocess.run([str(colab["python"]), "-c", probe], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout  # not the checkout, whose package would be found
    assert out.strip() == "[] True"


@pytest.mark.book
@pytest.mark.parametrize("chapter", notebook_chapters(), ids=[p.stem for p in notebook_chapters()])
def test_chapter_installs_and_runs_in_emulated_colab(chapter, colab, tmp_path, monkeypatch):
    """The paired .ipynb (what the launch button opens) installs the package and runs."""
    paired = chapter.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} missing: the Colab button would open nothing"
    notebook = nbformat.read(paired, as_version=4)
    assert "google.colab" in notebook.cells[0].source or any(
        "google.colab" in c.source for c in notebook.cells[:3]), "no Colab install cell near the top"
    if chapter.stem not in FULL_RUNS:
        notebook = _until_first_package_use(notebook)
    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    monkeypatch.setenv("RADOGAGA_PIP", str(ROOT))
    monkeypatch.setenv("RADOGAGA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RADOGAGA_CACHE", str(tmp_path / "cache"))
    parameters = {"profile": "quick"} if "profile" in json.dumps([c.source for c in notebook.cells[:3]]) else {}
    papermill.execute_notebook(notebook, str(tmp_path / paired.name), parameters=parameters, kernel_name=KERNEL,
                               cwd=str(chapter.parent), progress_bar=False)
    installed = subprocess.run([str(colab["python"]), "-c", "import radogaga; print(radogaga.__version__)"],
                               capture_output=True, text=True, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
