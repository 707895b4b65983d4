"""Writing files safely: the one atomic write of the package (results, checkpoints,
downloads and figures all go through it), and the clean-up of the temp files a killed
writer left behind."""

from __future__ import annotations

import contextlib
import os
import re
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
        mode, encoding=encoding, delete=False, dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
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


_TEMP = re.compile(r"\..+\.(\d+)\.[^.]+\.tmp")  # .<name>.<writer's pid>.<random>.tmp


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temp files of `atomic_write` in `folder` whose writer is no longer running
    (killed mid-write); the temp files of writers still at work are left alone. Returns them."""
    folder = Path(folder)
    stale = [path for path in (folder.glob(".*.tmp") if folder.is_dir() else [])
             if (match := _TEMP.fullmatch(path.name)) and not _running(int(match.group(1)))]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stale
