"""Writes that check their result: every byte written or a clear error naming the file.

`os.write` may write less than it was given, and a full disk raises only on some writes (or
on fsync). Every write here loops until all bytes are out, fsyncs, and turns a failure into
`WriteFailed` ("no space left on device: PATH"), which stops the whole run with exit 2; an
append that fails half-way is cut back so that no torn line is left behind.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from factbench.errors import RunAborted

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class WriteFailed(RunAborted):
    """A file could not be written; the run stops (exit 2) and resumes once the cause is fixed."""

    exit_code = 2

    def __init__(self, path: str | Path, exc: OSError):
        self.path = str(path)
        self.errno = exc.errno
        if exc.errno in _FULL:
            message = f"no space left on device: {path}"
        else:
            message = f"cannot write {path}: {exc.strerror or exc}"
        super().__init__(message)


def disk_is_full(path: str | Path) -> bool:
    """Whether the file system holding `path` has (almost) no room left: to explain errors, such as
    SQLite's "disk I/O error", that do not say so themselves."""
    try:
        return shutil.disk_usage(Path(path).parent).free < 1 << 20
    except OSError:
        return False


def write_all(fd: int, data: bytes, path: str | Path, *, sync: bool = True) -> None:
    """Write every byte of `data` to `fd` and fsync (unless `sync` is False: the caller fsyncs a batch
    later); on failure cut the file back and raise WriteFailed."""
    start = os.lseek(fd, 0, os.SEEK_END)
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:  # a write that makes no progress: the device takes no more
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
        if sync:
            os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, start)  # no torn line: the record is either whole or absent
        except OSError:
            pass
        raise WriteFailed(path, exc) from None


def append_bytes(path: str | Path, data: bytes) -> None:
    """Append `data` to `path` (created if missing), durably."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WriteFailed(path, exc) from None
    try:
        write_all(fd, data, path)
    finally:
        os.close(fd)


def replace_file(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path` and move it over `path` (all or nothing)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        raise WriteFailed(path, exc) from None
    try:
        write_all(fd, data, path)
    except WriteFailed:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteFailed(path, exc) from None
