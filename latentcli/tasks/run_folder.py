"""A task's run folder around the task itself: everything printed is copied into `<task>.log`, and a
command that is refused (a UserError) or interrupted leaves the folder as it found it unless it had
already written results there.

Hydra creates the folder before the task starts (and `hydra.output_subdir: null` in the task configs
stops it from writing `.hydra/` there; the tasks write that record once their checks pass)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from latentcli.errors import UserError

OURS = (".hydra",)  # written by the tasks as a record, not a result: a refused command may remove it


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
        for line in lines:
            line = line.rsplit("\r", 1)[-1]
            if line.strip():
                self.log.write(line + "\n")
        self.log.flush()
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
        self.log_size = self.log_path.stat().st_size if self.log_path.exists() else None
        self.before = _files(self.out, {self.log_path})
        self.log = open(self.log_path, "a", encoding="utf-8")
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
        if not wrote:
            self._undo()
        raise SystemExit(code) from None

    def _close(self) -> None:
        sys.stdout, sys.stderr = self.streams
        self.log.close()

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
