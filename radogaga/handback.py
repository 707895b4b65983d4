"""Hand a run's checkpoints back from a rented GPU machine and restore them on the next one.

`pack` cuts every file of every checkpoint folder of an experiment (the checkpoint module's
own listing, `checkpoints.run_files`: any name, legs included) into pieces a transfer takes
and lists them, with each file's size and sha256, in `handback.json`. `unpack` joins the
pieces listed there back into the cache after checking each file's sha256, and refuses a
folder written by other code: its fingerprint is part of the folder's name, so the run
would never find it and would silently start from step 0.

    python -m radogaga.handback pack CACHE EXPERIMENT OUT
    python -m radogaga.handback unpack RESUME_DIR CACHE EXPERIMENT
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from radogaga.infra import checkpoints
from radogaga.infra.files import atomic_write

MANIFEST = "handback.json"
PIECE_BYTES = 15 * 2**20  # 15 MiB: a size any transfer takes


class HandbackError(ValueError):
    """Pieces that cannot be restored: from other code, incomplete or corrupt."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(cache: Path, experiment: str, out: Path) -> list[dict]:
    """Cut the checkpoint files of `experiment` in `cache` into pieces in `out`; returns the manifest."""
    entries = []
    for folder in sorted((cache / "checkpoints" / experiment).glob("*")):
        for path in checkpoints.run_files(folder):
            data = path.read_bytes()
            pieces = []
            for start in range(0, max(len(data), 1), PIECE_BYTES):
                pieces.append(f"handback--{len(entries):03d}.part-{len(pieces):03d}")
                with atomic_write(out / pieces[-1], "wb") as handle:
                    handle.write(data[start:start + PIECE_BYTES])
            entries.append({"experiment": experiment, "folder": folder.name,
                            "name": path.relative_to(folder).as_posix(), "bytes": len(data),
                            "sha256": _sha256(data), "pieces": pieces})
    with atomic_write(out / MANIFEST) as handle:
        json.dump(entries, handle, indent=1)
    return entries


def unpack(resume: Path, cache: Path, experiment: str) -> list[Path]:
    """Restore the pieces listed in `resume`/handback.json into `cache`; returns the files restored.
    HandbackError (nothing restored) for a folder of other code or a piece missing or corrupt."""
    from radogaga import experiments
    from radogaga.store import fingerprint

    experiments.get(experiment)  # an unknown name fails here, before any piece is read
    manifest = resume / MANIFEST
    if not manifest.is_file():
        return []
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    ours = fingerprint.code_record(experiment)["fingerprint"]
    joined = []
    for entry in entries:
        if entry["experiment"] != experiment:
            raise HandbackError(f"{manifest} hands back checkpoints of {entry['experiment']!r}, not {experiment!r}; "
                                "run that experiment, or empty RESUME_DIR.")
        if not entry["folder"].endswith(f"-{ours}"):
            raise HandbackError(
                f"{entry['pieces'][0]} holds a checkpoint of other code (folder {entry['folder']}; this code's "
                f"fingerprint is {ours}), which this code would never resume. Check out the commit that wrote it, "
                "or remove the pieces from RESUME_DIR to start afresh.")
        missing = [piece for piece in entry["pieces"] if not (resume / piece).is_file()]
        if missing:
            raise HandbackError(f"pieces {', '.join(missing)} of {entry['name']} are missing from {resume}; copy "
                                "every file a call handed back.")
        data = b"".join((resume / piece).read_bytes() for piece in entry["pieces"])
        if len(data) != entry["bytes"] or _sha256(data) != entry["sha256"]:
            raise HandbackError(f"the pieces of {entry['name']} in {resume} join to other bytes than were handed "
                                "back (a piece cut short?); copy them again.")
        joined.append((cache / "checkpoints" / experiment / entry["folder"] / entry["name"], data))
    for target, data in joined:
        with atomic_write(target, "wb") as handle:
            handle.write(data)
    return [target for target, _ in joined]


def main(argv: list[str] | None = None) -> int:
    """The command line of gpu_run.sh's hand-back: pack or unpack (see the module's docstring)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) == 4 and args[0] == "pack":
            entries = pack(Path(args[1]), args[2], Path(args[3]))
            print(f"handed back {len(entries)} checkpoint file(s) in {sum(len(e['pieces']) for e in entries)} piece(s)")
        elif len(args) == 4 and args[0] == "unpack":
            restored = unpack(Path(args[1]), Path(args[2]), args[3])
            print(f"restored {len(restored)} handed-back checkpoint file(s)")
        else:
            print(__doc__.strip().splitlines()[-2].strip() + "\n" + __doc__.strip().splitlines()[-1].strip(),
                  file=sys.stderr)
            return 2
    except (ValueError, OSError) as error:
        print(f"gpu_run.sh: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
