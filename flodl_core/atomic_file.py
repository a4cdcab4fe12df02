"""Replace a file atomically: the one writer behind checkpoints and reports.

A file is written under a temporary name in the target's own directory,
flushed to disk, then moved over the target with ``os.replace`` (atomic on
POSIX and Windows), and the directory entry is flushed too. A crash at any
moment leaves either the old file or the new one, never a torn mix; what a
killed process leaves behind is an orphan ``.<name>.<random>.tmp`` file.
"""
from __future__ import annotations

import os
import tempfile

__all__ = ["replace_atomically", "write_text_atomically"]


def replace_atomically(path, write_tmp) -> None:
    """Call ``write_tmp(tmp_path)`` on a new file beside ``path``, make it durable,
    then move it over ``path``. On any failure the temporary file is removed,
    ``path`` is untouched and the exception propagates (OSError for I/O)."""
    path = os.path.abspath(os.fsdecode(path))
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        write_tmp(tmp)
        with open(tmp, "rb+") as fh:          # the writer closed it; make the bytes durable
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))   # mkstemp's 0600 would leak into the result
        os.replace(tmp, path)
        _fsync_directory(directory)            # make the rename itself durable
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text_atomically(path, text: str) -> None:
    """UTF-8 ``text`` to ``path`` through :func:`replace_atomically`."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    replace_atomically(path, write)


def _new_file_mode(path: str) -> int:
    """Keep an existing file's mode; a new file gets 0666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status") as fh:   # reading the umask without changing it
            for line in fh:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except OSError:
        pass
    return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return                                  # not possible on this platform
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
