"""The package's layers (CONTRIBUTING.md, "What may import what"): every import of the
package, at module level or inside a function, goes to its own layer or one below."""

from __future__ import annotations

import ast

from chapters import ROOT

# Bottom first. A module belongs to the layer of the longest prefix that names it.
LAYERS = [
    ("infrastructure", ("radogaga", "radogaga.infra")),
    ("data, cost, store", ("radogaga.data", "radogaga.objectives", "radogaga.store")),
    ("models", ("radogaga.models",)),
    ("training, registry", ("radogaga.train", "radogaga.experiments")),
    ("verdicts", ("radogaga.verdicts",)),
    ("measurements", ("radogaga.analysis",)),
    ("experiments", ("radogaga.experiments.",)),  # the experiment modules, not the registry
    ("book tooling, estimators", ("radogaga.bookkit", "radogaga.estimators")),
    ("commands", ("radogaga.cli", "radogaga.reproduce", "radogaga.revalidate", "radogaga.__main__",
                  "radogaga.handback", "radogaga.migrations")),
]
# Upward imports that are allowed, each inside a function (never at module level), with the reason.
UPWARD = {
    ("radogaga.verdicts", "radogaga.analysis.ssim"): "the ledger lists Appendix C's rule, defined beside its algebra",
    ("radogaga.verdicts", "radogaga.bookkit.chapter"): "a verdict glues its outcome into the chapter's text",
}


def layer(module: str) -> int:
    best, rank = "", None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            hit = module.startswith(prefix) if prefix.endswith(".") else (
                module == prefix or module.startswith(prefix + "."))
            if hit and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank is not None, f"{module} is in no layer"
    return rank


def package_imports():
    """(importer, imported module, inside a function?) for every import of the package."""
    for path in sorted((ROOT / "radogaga").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        importer = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        tree = ast.parse(path.read_text())
        nested = {id(node) for function in ast.walk(tree)
                  if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in ast.walk(function)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "radogaga":
                assert node.level == 0, f"{importer}: relative import (the package imports absolutely)"
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    target = candidate if (ROOT / (candidate.replace(".", "/") + ".py")).exists() or \
                        (ROOT / candidate.replace(".", "/")).is_dir() else node.module
                    yield importer, target, id(node) in nested


def test_every_module_is_in_a_layer_and_imports_downward():
    wrong = []
    for importer, target, inside_function in package_imports():
        if layer(target) <= layer(importer) or target == importer:
            continue
        if (importer, target) in UPWARD and inside_function:
            continue
        wrong.append(f"{importer} ({LAYERS[layer(importer)][0]}) imports {target} ({LAYERS[layer(target)][0]})")
    assert not wrong, "\n".join(wrong)


def test_the_allowed_upward_imports_are_still_needed():
    found = {(importer, target) for importer, target, _ in package_imports()}
    assert set(UPWARD) <= found, set(UPWARD) - found
