"""Every page of the strict book build (the `built_book` fixture of conftest.py, which
executes every chapter once) checked in headless Chromium at 1280 and 768 px: math rendered
by the bundled MathJax, every image loaded, tables and figures inside the text column or in
a scroll container the reader sees, display math inside it, no cell cut short, no
traceback, no Markdown shown as text, figures whose smallest text is at least 9 px on the
page, Colab links to .ipynb and download links; and no working vocabulary in the text."""

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
from PIL import Image

from chapters import ROOT, notebook_chapters, toc_documents
from radogaga.bookkit import plotting

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


WIDTHS = ((1280, 900), (768, 1024))  # a laptop screen, and a tablet held upright
MIN_TEXT_PX = plotting.MIN_TEXT_PX  # the smallest text of a figure, as rendered at 1280 px


def browser_report(base: str, pages: list[str], profile: Path, widths=WIDTHS) -> list[dict]:
    """What tests/browser_check.html finds on each page (served under `base`) at each width."""
    asked = urllib.parse.quote(json.dumps({"pages": pages, "widths": [list(w) for w in widths]}))
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=90000", "--dump-dom",
         f"{base}/__browser_check__.html#{asked}"], capture_output=True, text=True, timeout=600)
    dom = done.stdout
    start, end = dom.find('<pre id="result">') + len('<pre id="result">'), dom.rfind("</pre>")
    return json.loads(dom[start:end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


def smallest_text_px(built_book: Path, image: dict) -> float | None:
    """The rendered height in pixels of a figure's smallest text, from the pixel height its PNG
    records (plotting.inline_png) scaled by how large the page draws the PNG; None for an image
    that records none (not a figure of a chapter)."""
    path = built_book / urllib.parse.urlparse(image["src"]).path.lstrip("/")
    if path.suffix != ".png" or not path.is_file():
        return None
    recorded = Image.open(path).text.get(plotting.TEXT_PX_KEY)
    return None if recorded is None else float(recorded) * image["rendered"] / image["natural"]


def test_every_page_renders(served, built_book, tmp_path):
    pages = [f"{served}/{path.relative_to(ROOT).with_suffix('.html').as_posix()}" for path in toc_documents()]
    report = browser_report(served, pages, tmp_path / "profile")
    assert [page["url"] for page in report] == pages * len(WIDTHS)
    notebooks = {path.relative_to(ROOT).with_suffix(".html").as_posix() for path in notebook_chapters()}
    layout, small_text, figures = [], [], 0  # what a reader would have to scroll sideways for, see cut, or squint at
    for page in report:
        name = page["url"].removeprefix(served + "/")
        assert page["title"], name
        if page["math_sources"]:
            assert page["mathjax_containers"] > 0, f"{name}: math not rendered by MathJax"
        assert not page["raw_math"], f"{name}: raw TeX delimiters left in the text"
        assert not page["broken_images"], f"{name}: images failed to load: {page['broken_images']}"
        assert not page["traceback"], f"{name}: an error or traceback is shown"
        assert not page["literal_backticks"], f"{name}: Markdown backticks shown as text in {page['literal_backticks']}"
        where = f"{name} at {page['width']} px"
        if page["too_wide"]:
            layout.append(f"{where}: wider than the {page['column_width']:.0f} px text column and not in a "
                          f"visible scroll container: {page['too_wide']}")
        if page["cut_cells"]:
            layout.append(f"{where}: table cells cut short: {page['cut_cells'][:5]}")
        if name in notebooks:
            assert page["colab_links"], f"{name}: no Colab launch button"
            stem = Path(name).stem
            assert {f"{stem}.ipynb", f"{stem}.md"} <= {link.rsplit("/", 1)[-1] for link in page["downloads"]}, \
                f"{name}: no download link for its notebook and its source"
        # The launch button opens this chapter's own paired notebook.
        paired = name.removesuffix(".html") + ".ipynb"
        assert all(link.endswith(paired) for link in page["colab_links"]), (name, page["colab_links"])
        if page["width"] == WIDTHS[0][0] and name in notebooks:
            for image in page["images"]:
                size = smallest_text_px(built_book, image)
                figures += size is not None
                if size is not None and size < MIN_TEXT_PX:
                    small_text.append(f"{name}: {image['src'].rsplit('/', 1)[-1]}: smallest text {size:.1f} px")
    assert figures > 20, f"only {figures} figures record their text size"
    assert not layout, "\n".join(layout)
    assert not small_text, "\n".join(small_text)


def test_the_check_refuses_an_over_wide_table_and_accepts_one_that_scrolls(tmp_path):
    """The browser check on a page made for it: a table wider than the text column fails it,
    the same table inside a sideways scroll container with a drawn scrollbar passes."""
    wide = "<table><tr>" + "".join(f"<td>column&nbsp;number&nbsp;{i}</td>" for i in range(40)) + "</tr></table>"
    page = ("<!DOCTYPE html><html><head><style>article { padding: 0 30px; width: 640px; }"
            ".scroller { overflow-x: scroll; }</style></head><body><main><article class='bd-article'>"
            f"<section id='bare'>{wide}</section><section id='held'><div class='scroller'>{wide}</div></section>"
            "</article></main></body></html>")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "wide.html").write_text(page)
    shutil.copy(Path(__file__).with_name("browser_check.html"), tmp_path / "site" / "__browser_check__.html")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path / "site")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        [found] = browser_report(base, [f"{base}/wide.html"], tmp_path / "profile", widths=((1280, 900),))
    finally:
        server.shutdown()
    assert found["column_width"] == pytest.approx(640, abs=1)
    assert len(found["too_wide"]) == 1 and found["too_wide"][0].startswith("table in #bare")
    assert len(found["scrolled"]) == 1 and found["scrolled"][0].startswith("table in #held")


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
