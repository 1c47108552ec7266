"""Writing output files atomically: a crash leaves the old file or the new one, never half of one.
A write that the storage refuses (a full disk, a read-only folder) is a StorageError: one line, not a
traceback, and the file that was there before is left as it was."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from latentcli.errors import StorageError

TEMPORARY = (".*.tmp*", ".*.link")  # the names of atomic_output's temporary files and the trainer's links


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Yields a temporary path beside `path`; on success it is fsynced and renamed onto `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as err:
        raise _cannot_write(path, err) from err
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _cannot_write(path, err) from err
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _cannot_write(path: Path, err: OSError) -> StorageError:
    kept = "the file there before is unchanged" if path.exists() else "nothing was written there"
    return StorageError(f"cannot write {path}: {err.strerror or err}; {kept}")


def check_writable(folder: str | Path, key: str) -> None:
    """Raises StorageError, naming `key` (the option that chose the folder), when no file can be made in
    `folder` (created if missing), so that a run stops before any work rather than at its first save."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise StorageError(f"cannot write to {folder} ({key}): {err.strerror or err}: "
                           f"choose a writable folder with {key}=DIR") from err


def remove_temporaries(folder: str | Path) -> None:
    """Deletes the temporary files a killed writer left in `folder` (call it only while no other process
    writes there: the run folder's lock)."""
    for pattern in TEMPORARY:
        for path in Path(folder).glob(pattern):
            path.unlink(missing_ok=True)


class WriteErrors:
    """A binary file that remembers the OSError of a failed write (`.error`). torch.save's zip writer turns
    one (a full disk) into a RuntimeError that no longer says what happened; this keeps the reason."""

    def __init__(self, file):
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


def write_text(path: str | Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
