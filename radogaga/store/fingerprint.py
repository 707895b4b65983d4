"""A fingerprint of the code that computes an experiment's numbers, stored with each
result so the book can tell when the code has changed since a result was made.

The fingerprint covers the experiment's module and every module of the package it
imports, directly or not, except those that cannot change a number (storage, paths,
devices, parameter checks, the book's tooling). Inside a module it leaves out what
does not compute: docstrings, comment and blank lines, import statements (so moving a
module to another package leaves its hash alone), the verdict and its rules (with
the names starting with `RULE_` or `_rule`), the profiles and GPU estimates (a config's
values are part of the result's key anyway) and the validation in `__post_init__`. Each module is hashed on its own, so a stale result
can say which modules changed; modules are matched by content, not by name, so a module
that only moved is not a change.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from radogaga.infra import paths

PACKAGE = "radogaga"
ALGORITHM = 2  # 2: import statements left out; records of another algorithm are recomputed from their commit
NOT_NUMERIC = frozenset({  # modules that cannot change a number: book tooling, the store, plumbing
    "radogaga", "radogaga.cli", "radogaga.reproduce", "radogaga.verdicts", "radogaga.experiments",
    "radogaga.analysis", "radogaga.bookkit", "radogaga.infra", "radogaga.store",
    "radogaga.bookkit.book", "radogaga.bookkit.chapter", "radogaga.bookkit.citation", "radogaga.bookkit.plotting",
    "radogaga.bookkit.sphinx_ext", "radogaga.data.fetch", "radogaga.infra.checks", "radogaga.infra.device",
    "radogaga.infra.files", "radogaga.infra.paths", "radogaga.infra.checkpoints", "radogaga.store.fingerprint",
    "radogaga.store.results", "radogaga.revalidate",
})
EXCLUDED_NAMES = frozenset({"verdict", "RULES", "EVIDENCE_PROFILES", "SHOWN_PROFILES", "PROFILES", "GPU_MINUTES",
                            "PAPER_TABLE1", "REPRODUCE_PROFILE", "__post_init__"})
EXCLUDED_PREFIXES = ("RULE_", "_rule")  # the constants and helpers of a verdict
Reader = Callable[[str], str | None]  # package-relative file path -> its text, or None


def _current_reader(relative: str) -> str | None:
    path = paths.PACKAGE_DIR.parent / relative
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _module_file(module: str, read: Reader) -> tuple[str, str] | None:
    """(relative path, text) of `module`: a `.py` file or a package's `__init__.py`."""
    base = module.replace(".", "/")
    for relative in (f"{base}.py", f"{base}/__init__.py"):
        text = read(relative)
        if text is not None:
            return relative, text
    return None


def _imported(module: str, relative: str, tree: ast.Module, read: Reader) -> set[str]:
    """The package's modules that `module` imports (a `from X import name` counts X.name
    when it is a module)."""
    package = module if relative.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names
                      if _module_file(f"{base}.{alias.name}", read) is not None}
    return found


def _skipped_lines(tree: ast.Module) -> set[int]:
    """Line numbers of docstrings and of the definitions that do not compute."""
    skipped: set[int] = set()

    def span(node: ast.AST) -> range:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return range(first, node.end_lineno + 1)

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skipped.update(span(node))

    def visit(body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            skipped.update(span(body[0]))
        for node in body:
            names = set()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = {node.name}
            elif isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = {node.target.id}
            if names & EXCLUDED_NAMES or any(n.startswith(EXCLUDED_PREFIXES) for n in names):
                skipped.update(span(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(node.body)

    visit(tree.body)
    return skipped


def _module_hash(text: str, tree: ast.Module) -> str:
    skipped = _skipped_lines(tree)
    kept = [line.strip() for number, line in enumerate(text.splitlines(), start=1)
            if number not in skipped and line.strip() and not line.strip().startswith("#")]
    return hashlib.sha256("\n".join(kept).encode("utf-8")).hexdigest()[:12]


def module_hashes(experiment: str, read: Reader = _current_reader) -> dict[str, str]:
    """Hash of each module that computes experiment `experiment`'s numbers."""
    start = f"{PACKAGE}.experiments.{experiment}"
    todo, seen, hashes = [start], set(), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        found = _module_file(module, read)
        if found is None:
            continue
        relative, text = found
        tree = ast.parse(text)
        if module in NOT_NUMERIC and module != start:
            continue  # nothing it imports can change a number through it
        hashes[module] = _module_hash(text, tree)
        todo.extend(_imported(module, relative, tree, read) - seen)
    if start not in hashes:
        raise ValueError(f"no module {start} to fingerprint")
    return dict(sorted(hashes.items()))


def combined(hashes: Mapping[str, str]) -> str:
    """One hash for a set of module hashes."""
    text = "\n".join(f"{name} {value}" for name, value in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def code_record(experiment: str) -> dict | None:
    """What a result stores about its code: the combined fingerprint and each module's hash
    (None for an experiment with no module file in the package, e.g. a test double)."""
    if _module_file(f"{PACKAGE}.experiments.{experiment}", _current_reader) is None:
        return None
    hashes = module_hashes(experiment)
    return {"fingerprint": combined(hashes), "modules": hashes, "algorithm": ALGORITHM}


def changed_modules(experiment: str, record: Mapping | None, equivalence: Mapping | None = None) -> list[str] | None:
    """The modules whose code differs from the stored `record` (added and removed ones
    included), [] when none, or None when the result carries no record. An `equivalence`
    (a later record of code shown to compute the same, see `radogaga.revalidate`) that
    matches the current code counts as no change."""
    if not record or "modules" not in record or record.get("algorithm", 1) != ALGORITHM:
        return None
    now = module_hashes(experiment)
    if equivalence and equivalence.get("algorithm") == ALGORITHM and \
            sorted(equivalence.get("modules", {}).values()) == sorted(now.values()):
        return []
    then = dict(record["modules"])
    new = {name for name, value in now.items() if value not in set(then.values())}
    gone = {f"{name} (removed)" for name, value in then.items() if value not in set(now.values()) and name not in now}
    return sorted(new | gone)


def record_at_commit(experiment: str, commit: str, root: Path | None = None) -> dict:
    """The code record of `experiment` as it was at git `commit` (for results stored
    before fingerprints existed); needs the repository's history."""
    root = root or paths.project_root()
    if root is None:
        raise ValueError("no source checkout with git history to read old code from")

    def read(relative: str) -> str | None:
        done = subprocess.run(["git", "show", f"{commit}:{relative}"], cwd=root, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else None

    hashes = module_hashes(experiment, read)
    return {"fingerprint": combined(hashes), "modules": hashes, "algorithm": ALGORITHM,
            "recorded_later_from_commit": commit}


def migrate(root: Path) -> list[Path]:
    """Give every stored result under `root` a code record of the current algorithm, computed
    from the commit in its provenance (its config and payload are not touched). Returns the
    files rewritten."""
    import json

    from radogaga.infra.files import atomic_write
    changed = []
    for path in sorted(Path(root).glob("*/*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        provenance = document["provenance"]
        if provenance.get("code", {}).get("algorithm", 1) == ALGORITHM:
            continue
        provenance["code"] = record_at_commit(document["experiment"], provenance["git_commit"])
        with atomic_write(path) as handle:
            json.dump(document, handle, allow_nan=True)
            handle.write("\n")
        changed.append(path)
    return changed
