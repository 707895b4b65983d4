"""Writing files safely: the one atomic write of the package (results, checkpoints,
downloads and figures all go through it)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w",
                 check: Callable[[Path], None] | None = None) -> Iterator[IO]:
    """Write to a uniquely named temp file beside `path`; on success fsync it, run `check`
    on it (which may raise) and rename it onto `path`; on any error delete it. So `path`
    holds either its old content or the complete new one, also when several processes
    write it at once (each has its own temp file; the last rename wins)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = None if "b" in mode else "utf-8"
    handle = tempfile.NamedTemporaryFile(
        mode, encoding=encoding, delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(Path(handle.name))
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise
