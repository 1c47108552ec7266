"""A task's run folder around the task itself: everything printed is copied into `<task>.log`, a
command that is refused (a UserError) or interrupted leaves the folder as it found it unless it had
already written results there, and one process at a time works in a folder (a lock the kernel drops
when its process ends, however it ends).

Hydra creates the folder before the task starts (and `hydra.output_subdir: null` in the task configs
stops it from writing `.hydra/` there; the tasks write that record once their checks pass)."""

from __future__ import annotations

import fcntl
import shutil
import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from latentcli.engine.distributed import launch_rank
from latentcli.errors import StorageError, UserError
from latentcli.files import check_writable

LOCK = ".latentcli.lock"
OURS = (".hydra", LOCK)  # written by the tasks as a record, not a result: a refused command may remove it


class _Tee:
    """A text stream that writes to the terminal stream and copies whole lines to the log.

    Progress bars redraw one line with carriage returns and never end it: only the text after a line's
    last '\\r' is copied, so the log gets the finished lines and no bars."""

    def __init__(self, stream, log):
        self.stream, self.log, self.pending = stream, log, ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        if self.log is None:
            return len(text)
        try:
            for line in lines:
                line = line.rsplit("\r", 1)[-1]
                if line.strip():
                    self.log.write(line + "\n")
            self.log.flush()
        except OSError:  # a full disk: the terminal still gets everything, the error line included
            self.log = None
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ...: the terminal's
        return getattr(self.stream, name)


def _files(folder: Path, skip: set[Path]) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime)} of every file under folder, outside `skip` and OURS."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if path.is_file() and path not in skip and rel.parts[0] not in OURS:
            stat = path.stat()
            found[str(rel)] = (stat.st_size, stat.st_mtime_ns)
    return found


class RunFolder:
    """`with RunFolder(out, task): task.run(cfg)`; a UserError becomes one line `latentcli TASK: error: ...`
    and SystemExit (status 2, or the error's exit_code), Ctrl-C one line and status 130."""

    def __init__(self, out: Path, task: str):
        self.out, self.task = Path(out), task
        self.log_path = self.out / f"{task}.log"

    def __enter__(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self.was_empty = not any(self.out.iterdir())
        self.lock = _lock(self.out, self.task)
        self.log_size = self.log_path.stat().st_size if self.log_path.exists() else None
        self.before = _files(self.out, {self.log_path})
        # under torchrun the log is rank 0's: the other ranks' lines (their warnings) reach the terminal only
        self.main = launch_rank() == 0
        self.log = open(self.log_path, "a", encoding="utf-8") if self.main else None
        self.streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, self.log), _Tee(sys.stderr, self.log)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, (UserError, KeyboardInterrupt)):
            self._close()
            return False  # success, SystemExit, or a real crash: keep everything for the post-mortem
        wrote = _files(self.out, {self.log_path}) != self.before
        if issubclass(exc_type, UserError):
            print(f"latentcli {self.task}: error: {exc}", file=sys.stderr)
            code = getattr(exc, "exit_code", 2)
        else:
            kept = f"what it wrote is kept in {self.out}" if wrote else "nothing saved"
            print(f"latentcli {self.task}: interrupted (Ctrl-C): {kept}", file=sys.stderr)
            code = 130
        self._close()
        if not wrote and self.main:  # the folder is rank 0's to put back
            self._undo()
        raise SystemExit(code) from None

    def _close(self) -> None:
        sys.stdout, sys.stderr = self.streams
        try:
            if self.log is not None:
                self.log.close()
        except OSError:  # the last lines could not be flushed to a full disk; the terminal had them
            pass
        self.lock.close()  # releases the lock

    def _undo(self) -> None:
        """Puts the folder back as the command found it: removed if it was new, else the log cut back."""
        if self.was_empty:
            shutil.rmtree(self.out, ignore_errors=True)
            for parent in self.out.parents:  # outputs/train/ too, if this command made it and left it empty
                if parent == Path.cwd() or any(parent.iterdir()):
                    break
                parent.rmdir()
        elif self.log_size is None:
            self.log_path.unlink(missing_ok=True)
        else:
            with open(self.log_path, "r+b") as f:
                f.truncate(self.log_size)


def _lock(folder: Path, task: str):
    """The open lock file of `folder`, locked by this process (fcntl.flock: released by the kernel when the
    process ends, even by kill -9, so a crashed run never leaves it stuck). Another process holding it
    is one line and status 2. Under torchrun each rank locks its own file: the ranks share the folder."""
    rank = launch_rank()
    path = folder / (LOCK if rank == 0 else f"{LOCK}.rank{rank}")
    lock = open(path, "a", encoding="utf-8")  # never rewritten: a refused command changes nothing on disk
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        print(f"latentcli {task}: error: {folder} is in use by another latentcli process: wait for it to end, "
              f"or write elsewhere with hydra.run.dir=DIR (hydra.sweep.dir=DIR for -m)", file=sys.stderr)
        raise SystemExit(2) from None
    return lock


class WritableOutput(Callback):
    """Before any work: one line (status 2) when the run or sweep folder cannot be written (read-only, no
    permission), instead of a traceback from Hydra creating it or a crash at the first save."""

    def on_run_start(self, config, **kwargs) -> None:
        _check(config.hydra.run.dir, "hydra.run.dir", config.hydra.job.name)

    def on_multirun_start(self, config, **kwargs) -> None:
        _check(config.hydra.sweep.dir, "hydra.sweep.dir", config.hydra.job.name)


def _check(folder: str, key: str, task: str) -> None:
    try:
        check_writable(folder, key)
    except StorageError as err:
        print(f"latentcli {task}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
