"""CI's wall time, measured as CI meets it: a fresh clone of the current commit, `.ci/run`
(the README's test command: a new virtual environment, the installs, every test, the strict
book build that executes every chapter once, the browser check). Prints the total, the
book build's share and the machine's load, so a time can be quoted with its conditions.

    python benchmarks/time_ci.py                        # RADOGAGA_DATA: the data copies
    python benchmarks/time_ci.py --keep /tmp/ci-clone   # keep the clone to look at
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder, removed)")
    args = parser.parse_args()
    data = os.environ.get("RADOGAGA_DATA")
    if not data or not Path(data).is_dir():
        parser.error("set RADOGAGA_DATA to the folder of data copies (see the README, 'Data')")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="radogaga-ci-"))
    clone = folder / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout.strip()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([str(clone / ".ci" / "run")], cwd=clone, capture_output=True, text=True,
                          env={**os.environ, "RADOGAGA_DATA": data})
    wall = time.perf_counter() - started
    tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    build = re.search(r"book build: (\d+) s", done.stdout)
    print(f"commit {commit}, {os.cpu_count()} cores, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f".ci/run: exit {done.returncode}, {wall:.0f} s ({wall / 60:.1f} min); "
          f"book build {build.group(1) + ' s' if build else 'not reported'}; pytest: {tail[0]}")
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
