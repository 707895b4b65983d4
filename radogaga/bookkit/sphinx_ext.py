"""Sphinx extension of the book: pages made from the sources and the results store.

* `{figure-gallery}`: every figure of every chapter (number, caption, thumbnail, links to
  its PDF, SVG and PNG), read from the chapters' sources;
* `{book-citation}`: the book's BibTeX entry, from CITATION.cff;
* `{verdict-rules}`: the ledger of the verdicts' rules (version, date and commit fixed,
  first evaluation on evidence, reason);
* `{results-store}`: one row per stored result (experiment, part, scale, device, versions,
  commit, time, wall time, seeds, data provenance);
* once the HTML is written, the figure files the chapters saved are copied into
  `figures/` of the site, where the gallery links to them.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from radogaga import experiments, verdicts
from radogaga.bookkit import book, chapter, citation
from radogaga.infra import paths
from radogaga.store import results

SUFFIXES = (".pdf", ".svg", ".png")


def gallery_markdown(book_root: Path, site_prefix: str = "..") -> str:
    """The gallery as MyST: one block per chapter, one entry per figure."""
    blocks = []
    for page in book.notebook_chapters(book_root):
        shown = book.figures(page)
        if not shown:
            continue
        label, _ = book.chapter_label_and_title(page)
        entries = [f"**{{ref}}`{label}`**"]
        for figure in shown:
            links = " · ".join(f'<a href="{site_prefix}/figures/{figure.stem}.{kind}">{kind.upper()}</a>'
                               for kind in ("pdf", "svg", "png"))
            entries.append(
                f"{{numref}}`{figure.label}` — {figure.caption}\n\n"
                f'<img src="{site_prefix}/figures/{figure.stem}.png" alt="{html.escape(figure.caption)}" '
                f'width="360">\n\n'
                f"Files `{figure.stem}`: {links}")
        blocks.append("\n\n".join(entries))
    return "\n\n----\n\n".join(blocks)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def results_markdown(root: Path) -> str:
    """A MyST table of every stored result under `root`."""
    header = ("experiment", "part", "profile", "device, torch", "commit, date (UTC)", "wall time", "seeds",
              "current code")
    rows = []
    for name in experiments.names():
        for result in results.find(name, root=root):
            info = result.provenance
            config = result.config
            rows.append((
                name, ", ".join(config.get("datasets", []) or config.get("variants", [])) or "—",
                chapter.profile_of(result) or "no longer a profile",
                f"{info.get('device', '?')}, torch {info.get('torch_version', '?')}",
                str(info.get("git_commit", "?"))[:7] + (" (modified)" if info.get("git_dirty") else "")
                + f", {str(info.get('utc_time', '?'))[:10]}",
                f"{info['wall_time_s']:,.0f} s" if isinstance(info.get("wall_time_s"), (int, float)) else "?",
                len(config["seeds"]) if isinstance(config.get("seeds"), list) else "—",
                "made by older code" if chapter.code_notice(result) else "same numbers"))
    if not rows:
        return "No result is stored yet: every chapter shows its `quick` profile, computed at build time."
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def rules_markdown(root: Path) -> str:
    """Every version in the ledger of rules: a table (when fixed, whether after its evidence, when
    current versions were first evaluated on evidence), then why each version was made."""
    current = {(rule.key, rule.version): rule for rule in verdicts.all_rules()}
    entries = sorted(verdicts.ledger(), key=lambda e: (e["key"], e["version"]))
    lines = ["| rule | version | fixed (commit) | written after its evidence | first evaluated on evidence |",
             "|---|---|---|---|---|"]
    reasons = []
    for entry in entries:
        rule = current.get((entry["key"], entry["version"]))
        first = verdicts.first_evaluated(rule, root=root) if rule else "superseded"
        recorded = f"; recorded {entry['recorded']}" if entry.get("recorded") else ""
        lines.append(f"| `{entry['key']}` | {entry['version']} | {entry.get('fixed_utc', '?')} "
                     f"({entry.get('commit', '?')}{recorded}) | {'yes' if entry.get('after_evidence') else 'no'} | "
                     f"{_cell(first)} |")
        note = f" {entry['disclosed']}." if entry.get("disclosed") else ""
        reasons.append(f"* `{entry['key']}` version {entry['version']}: {entry.get('reason', '?')}.{note}")
    return "\n".join([*lines, "", "Why each version was made:", "", *reasons])


class _MarkdownDirective(SphinxDirective):
    """A directive whose body is MyST text made by `markdown()`."""

    has_content = False

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.markdown().splitlines(), source=self.get_source_info()[0]),
                                self.content_offset, container)
        return container.children


class FigureGallery(_MarkdownDirective):
    def markdown(self) -> str:
        base = book.root()
        for page in book.notebook_chapters(base):
            self.env.note_dependency(str(page))
        return gallery_markdown(base)


class ResultsStore(_MarkdownDirective):
    def markdown(self) -> str:
        return results_markdown(paths.results_dir())


class ResultsStatus(_MarkdownDirective):
    def markdown(self) -> str:
        status = chapter.experiment_status(paths.results_dir())
        lines = ["| experiment | " + " | ".join(status.columns) + " |", "|---|" + "---|" * len(status.columns)]
        lines += ["| " + " | ".join(_cell(v) for v in (name, *row)) + " |" for name, row in status.iterrows()]
        return "\n".join(lines)


class VerdictRules(_MarkdownDirective):
    def markdown(self) -> str:
        self.env.note_dependency(str(verdicts.LEDGER))
        return rules_markdown(paths.results_dir())


class BookCitation(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        path = book.root() / "CITATION.cff"
        self.env.note_dependency(str(path))
        text = citation.bibtex(path)
        return [nodes.literal_block(text, text, language="bibtex")]


def copy_figures(app, exception) -> None:
    """`build-finished` handler: copy every figure file into <outdir>/figures."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "figures"
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(paths.figures_dir().glob("*")):
        if source.suffix in SUFFIXES:
            shutil.copy2(source, target / source.name)


def setup(app) -> dict:
    app.add_directive("figure-gallery", FigureGallery)
    app.add_directive("results-store", ResultsStore)
    app.add_directive("verdict-rules", VerdictRules)
    app.add_directive("results-status", ResultsStatus)
    app.add_directive("book-citation", BookCitation)
    app.connect("build-finished", copy_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
