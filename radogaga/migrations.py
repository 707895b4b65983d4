"""Changes of the store's format, applied once to stored results so that they stay readable:

* `undefined` marks: a stored toy_sensitivity result names its collapsed models, whose
  proportionality measures are NaN (what the current code writes);
* toy `jacobian_points`: the toy profiles named 2,000 points while the code measured the
  Jacobian at the first of the 1,500 figure points (capped); results of such a config are
  given the 1,500 they used, and move to that config's hash;
* seals: every result gets the digest of its config and payload (`results.digest`).

    python -m radogaga.migrations results [other result folders...]

Safe to repeat: a sealed file is checked, not rewritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

from radogaga.store import results


def _mark_undefined(path: Path) -> bool:
    from radogaga.experiments import toy_sensitivity

    document = results.read_document(path)
    if "digest" in document or results.UNDEFINED in document["payload"]:
        return False
    marks = toy_sensitivity.undefined_marks(document["payload"]["models"])
    if not marks:
        return False
    document["payload"][results.UNDEFINED] = marks
    results.write_document(path, document)
    return True


def _toy_jacobian_points(root: Path) -> int:
    moved = 0
    for path in sorted((root / "toy").glob("*.json")):
        document = results.read_document(path)
        config = document["config"]
        if "digest" in document or config.get("jacobian_points", 0) <= config.get("figure_points", 0):
            continue
        config["jacobian_points"] = config["figure_points"]
        results.move_to_config_hash(path, document)
        moved += 1
    return moved


def migrate(root: str | Path) -> dict[str, int]:
    """Apply every migration to the results under `root` (`<root>/<experiment>/<hash>.json`);
    returns how many files each changed."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder of stored results")
    capped = _toy_jacobian_points(root)
    files = sorted(root.glob("*/*.json"))
    marked = sum(_mark_undefined(path) for path in files if path.parent.name == "toy_sensitivity")
    sealed = sum(results.seal(path) for path in files)
    return {"files": len(files), "toy jacobian_points set to the points used": capped, "marked undefined": marked,
            "sealed": sealed}


def main(argv: list[str] | None = None) -> int:
    """Migrate each folder named on the command line."""
    folders = sys.argv[1:] if argv is None else argv
    if not folders:
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    for folder in folders:
        try:
            counts = migrate(folder)
        except (ValueError, results.ResultsError) as error:
            print(f"radogaga: error: {error}", file=sys.stderr)
            return 2
        print(f"{folder}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
