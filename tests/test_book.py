"""Every page of the strict book build (the `built_book` fixture of conftest.py, which
executes every chapter once) checked in headless Chromium: math rendered by the bundled
MathJax, every image loaded, tables and figures inside the text column, no cell cut short,
no traceback, Colab links to .ipynb; and no working vocabulary in the text."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest

from chapters import ROOT, notebook_chapters, toc_documents

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def served(built_book):
    """The built HTML on a loopback HTTP server (the browser check page copied in)."""
    shutil.copy(Path(__file__).with_name("browser_check.html"), built_book / "__browser_check__.html")
    handler = functools.partial(QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is needed for the browser check: apt-get install -y chromium")
    return path


def test_every_page_renders(served, built_book, tmp_path):
    pages = [f"{served}/{path.relative_to(ROOT).with_suffix('.html').as_posix()}" for path in toc_documents()]
    fragment = urllib.parse.quote(json.dumps(pages))
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=60000", "--dump-dom", f"{served}/__browser_check__.html#{fragment}"],
        capture_output=True, text=True, timeout=300,
    )
    dom = done.stdout
    start, end = dom.find('<pre id="result">') + len('<pre id="result">'), dom.rfind("</pre>")
    report = json.loads(dom[start:end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert [page["url"] for page in report] == pages
    notebooks = {path.relative_to(ROOT).with_suffix(".html").as_posix() for path in notebook_chapters()}
    layout = []  # what a reader at 1280 px would have to scroll sideways for, or would see cut
    for page in report:
        name = page["url"].removeprefix(served + "/")
        assert page["title"], name
        if page["math_sources"]:
            assert page["mathjax_containers"] > 0, f"{name}: math not rendered by MathJax"
        assert not page["raw_math"], f"{name}: raw TeX delimiters left in the text"
        assert not page["broken_images"], f"{name}: images failed to load: {page['broken_images']}"
        assert not page["traceback"], f"{name}: an error or traceback is shown"
        if page["too_wide"]:
            layout.append(f"{name}: wider than the {page['column_width']:.0f} px column: {page['too_wide']}")
        if page["cut_cells"]:
            layout.append(f"{name}: table cells cut short: {page['cut_cells'][:5]}")
        if name in notebooks:
            assert page["colab_links"], f"{name}: no Colab launch button"
        # The launch button opens this chapter's own paired notebook.
        paired = name.removesuffix(".html") + ".ipynb"
        assert all(link.endswith(paired) for link in page["colab_links"]), (name, page["colab_links"])
    assert any(page["images"] for page in report), "no page shows a figure"
    assert not layout, "\n".join(layout)


def test_mathjax_is_bundled(built_book):
    """Math renders with no network: MathJax is served from the build, not a CDN."""
    html = (built_book / "book" / "intro.html").read_text()
    assert "cdn.jsdelivr.net" not in html and "mathjax" in html.lower()
    assert any(built_book.rglob("tex-chtml*.js")) or any(built_book.rglob("tex-mml-chtml*.js"))


def test_gallery_links_every_figure_file(built_book):
    """Every PDF, SVG and PNG the gallery links to is in the built site."""
    html = (built_book / "book" / "gallery.html").read_text()
    targets = re.findall(r'(?:href|src)="\.\./figures/([\w.-]+)"', html)
    assert len(targets) >= 4 * 30  # three links and a thumbnail per figure
    missing = sorted({t for t in targets if not (built_book / "figures" / t).is_file()})
    assert not missing, f"gallery links to missing files: {missing[:5]}"


# Words of the project's own working vocabulary, which a reader of the book should never meet.
INTERNAL = re.compile(r"\b(issues?|the note|paper notes|working notes|closing note|sessions?|helpers?|"
                      r"DESIGN\.md|PAPER-NOTES)\b", re.IGNORECASE)


def test_no_internal_vocabulary_reaches_the_reader(built_book):
    found = {}
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts or page.name.startswith("__"):
            continue
        html = page.read_text()
        article = re.search(r"<article.*?</article>", html, re.S)  # the text, not the theme's buttons
        text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", article.group(0) if article else "",
                      flags=re.S)
        hits = sorted({m.group(0) for m in INTERNAL.finditer(text)})
        if hits:
            found[page.relative_to(built_book).as_posix()] = hits
    assert not found, found
