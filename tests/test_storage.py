"""Storage faults: an unwritable output folder, a full disk during a checkpoint write, SIGTERM during a
checkpoint write, and two processes on one run folder. Each ends in one line and a run that resumes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_TOY, run_cli, run_task
from test_trainer import assert_same_state
from latentcli.engine import checkpoint as ckpt_io
from latentcli.errors import StorageError
from latentcli.files import WriteErrors, atomic_output

GAN = ["train", "model=gan", *TINY_TOY, "trainer.checkpoint_every=10"]


def refused(capsys, *args: str) -> tuple[int, str]:
    """Runs `latentcli ARGS` in this process, expecting it to stop: (exit status, what it printed to stderr)."""
    from latentcli.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture
def read_only(tmp_path):
    """A folder no file can be written in: chmod 555, or for root (whom permissions do not stop) a
    read-only tmpfs."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "none", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot mount a read-only tmpfs")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_an_unwritable_output_folder_is_one_line_before_any_work(read_only, capsys, monkeypatch):
    from latentcli.tasks import train

    monkeypatch.setattr(train, "build_dataset", lambda cfg: pytest.fail("the data was read"))
    for where in (f"hydra.run.dir={read_only / 'run'}", f"hydra.run.dir={read_only}"):
        code, err = refused(capsys, *GAN, where)
        folder = where.split("=", 1)[1]
        assert code == 2 and err == (f"latentcli train: error: cannot write to {folder} (hydra.run.dir): "
                                     f"{os.strerror(errno.EROFS if os.geteuid() == 0 else errno.EACCES)}: "
                                     f"choose a writable folder with hydra.run.dir=DIR\n")
    code, err = refused(capsys, "train", "-m", "seed=0,1", f"hydra.sweep.dir={read_only / 'sweep'}")
    assert code == 2 and err.startswith(f"latentcli train: error: cannot write to {read_only / 'sweep'} "
                                        f"(hydra.sweep.dir): ") and err.count("\n") == 1
    code, err = refused(capsys, "evaluate", "ckpt=none.ckpt", f"hydra.run.dir={read_only / 'ev'}")
    assert code == 2 and err.startswith("latentcli evaluate: error: cannot write to") and err.count("\n") == 1


def test_a_full_disk_during_a_checkpoint_write_is_one_line_and_keeps_the_previous_one(tmp_path, capsys,
                                                                                      monkeypatch):
    run_task(*GAN, "trainer.max_steps=30", "resume=auto", f"hydra.run.dir={tmp_path / 'straight'}")
    run = tmp_path / "full"

    class FullDisk:
        """The file of step-20: the device fills up after 1,000 bytes (what a real full disk does to write())."""

        def __init__(self, file):
            self.file, self.room = file, 1000

        def write(self, data):
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(data)
            return self.file.write(data)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)
        return FullDisk(file) if Path(path).name.startswith(".step-00000020.") else file

    monkeypatch.setattr(ckpt_io, "open", open_on_a_full_disk, raising=False)  # only the checkpoint writer's
    code, err = refused(capsys, *GAN, "trainer.max_steps=30", "resume=auto", f"hydra.run.dir={run}")
    last = run / "checkpoints" / "last.ckpt"
    assert code == 1 and err == (
        f"latentcli train: error: cannot write {run / 'checkpoints' / 'step-00000020.ckpt'}: No space left on "
        f"device; nothing was written there; the last checkpoint, {last} (step 10), is intact: make room, then "
        f"run the same command with resume=auto\n")
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt", "step-00000010.ckpt"]  # no torn file
    assert ckpt_io.load(last)["step"] == 10
    monkeypatch.undo()
    run_task(*GAN, "trainer.max_steps=30", "resume=auto", f"hydra.run.dir={run}")  # room again: it goes on
    assert_same_state(ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt"), ckpt_io.load(last))


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KiB tmpfs (root only): room for the run's files and about three checkpoints of TINY_TOY's gan."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "none", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and tmpfs to make a really full disk (the monkeypatched test above runs anywhere)")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_really_full_disk_stops_with_one_line_and_the_run_goes_on_when_there_is_room(small_disk, capsys):
    run = small_disk / "run"
    args = [*GAN, "trainer.max_steps=300", "resume=auto", f"hydra.run.dir={run}"]
    code, err = refused(capsys, *args)
    last = run / "checkpoints" / "last.ckpt"
    step = ckpt_io.load(last)["step"]
    assert code == 1 and step >= 10 and err == (
        f"latentcli train: error: cannot write {run / 'checkpoints' / ckpt_io.periodic_name(step + 10)}: No space "
        f"left on device; nothing was written there; the last checkpoint, {last} (step {step}), is intact: make "
        f"room, then run the same command with resume=auto\n")
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)  # room again
    run_task(*args[:-3], f"trainer.max_steps={step + 10}", "resume=auto", f"hydra.run.dir={run}")
    assert ckpt_io.load(last)["step"] == step + 10


def test_torch_save_on_a_full_disk_says_so(tmp_path):
    # torch's zip writer turns the OSError of a failed write into "RuntimeError: unexpected pos"
    class Full:
        room = 100

        def write(self, data):
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(data)
            return len(data)

        def flush(self):
            pass

    import torch

    with pytest.raises(RuntimeError, match="unexpected pos"):
        torch.save({"w": torch.zeros(1000)}, Full())
    writes = WriteErrors(Full())
    with pytest.raises(RuntimeError):
        torch.save({"w": torch.zeros(1000)}, writes)
    assert writes.error.errno == errno.ENOSPC
    path = tmp_path / "kept.txt"
    path.write_text("before")
    with pytest.raises(StorageError, match="cannot write .*kept.txt: No space left on device; the file there "
                                           "before is unchanged"), atomic_output(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"] and path.read_text() == "before"


# A latentcli whose checkpoint writes take a while: each writes half its bytes, marks that it is
# writing (a file named after the step), pauses, then writes the rest.
SLOW_WRITES = """
import io, os, sys, time, torch
from pathlib import Path
real = torch.save
def slow(obj, f):
    buffer = io.BytesIO()
    real(obj, buffer)
    data = buffer.getvalue()
    f.write(data[:len(data) // 2])
    f.flush()
    Path(os.environ["MARKS"], f"writing-{obj['step']}").touch()
    time.sleep(2)
    f.write(data[len(data) // 2:])
torch.save = slow
from latentcli.cli import main
sys.exit(main())
"""


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("during", [10, 25], ids=["periodic-write", "final-write"])
def test_sigterm_during_a_checkpoint_write_still_resumes(tmp_path, during):
    # steps 10 and 20 save inside the loop, where SIGTERM asks the loop to save and stop (status 0); step 25's
    # save is the last one, after the loop, where SIGTERM ends the process in the middle of the write
    args = [*GAN, "trainer.max_steps=25", "resume=auto"]
    run_cli(*args, f"hydra.run.dir={tmp_path / 'straight'}")  # in a process like the others: the same threads
    run, marks = tmp_path / "run", tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITES, *args, f"hydra.run.dir={run}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MARKS": str(marks)})
    _wait_for(marks / f"writing-{during}", proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    if during == 10:
        assert proc.returncode == 0 and ckpt_io.load(run / "checkpoints" / "last.ckpt")["step"] == 10, stderr
    else:
        assert proc.returncode == -signal.SIGTERM
        assert ckpt_io.load(run / "checkpoints" / "last.ckpt")["step"] == 20  # the old file, whole
        assert list((run / "checkpoints").glob(".*.tmp*"))  # the cut-short write
    out = run_cli(*args, f"hydra.run.dir={run}").stdout  # the scheduler's requeue
    assert out.splitlines()[0] == f"resume=auto: resuming {run} from step {10 if during == 10 else 20}"
    assert not list((run / "checkpoints").glob(".*"))  # the torn temporary file is gone
    assert_same_state(ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt"),
                      ckpt_io.load(run / "checkpoints" / "last.ckpt"))


@pytest.mark.slow
def test_a_second_process_on_the_same_run_folder_is_refused_and_a_killed_one_leaves_no_lock(tmp_path, capsys):
    run = tmp_path / "run"
    args = [*GAN, "trainer.max_steps=1000000", "resume=auto", f"hydra.run.dir={run}"]
    first = subprocess.Popen([sys.executable, "-m", "latentcli", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    in_use = ("is in use by another latentcli process: wait for it to end, or write elsewhere with "
              "hydra.run.dir=DIR (hydra.sweep.dir=DIR for -m)\n")
    try:
        _wait_for(run / "checkpoints" / "step-00000020.ckpt", first)
        # the second process is this one: a requeue while the first still runs, alone or as a sweep's job
        code, err = refused(capsys, *args)
        assert code == 2 and err == f"latentcli train: error: {run} {in_use}" and capsys.readouterr().out == ""
        code, err = refused(capsys, "train", "-m", *args[1:-1], "seed=0", f"hydra.sweep.dir={tmp_path}",
                            "hydra.sweep.subdir=run")
        assert code == 2 and err.endswith(in_use) and err.count("\n") == 1
        assert "in use" not in (run / "train.log").read_text()  # the refused commands wrote nothing there
    finally:
        first.kill()  # kill -9: no chance to clean up
        first.wait()
    step = ckpt_io.load(run / "checkpoints" / "last.ckpt")["step"]
    run_task(*[a for a in args if "max_steps" not in a], f"trainer.max_steps={step + 5}")
    assert capsys.readouterr().out.splitlines()[0] == f"resume=auto: resuming {run} from step {step}"
    assert ckpt_io.load(run / "checkpoints" / "last.ckpt")["step"] == step + 5


def test_the_metrics_log_on_a_full_disk_is_a_storage_error(tmp_path):
    from latentcli.engine.logging import MetricsLogger

    class Full:
        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            pass

    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger._file.close()
    logger._file = Full()
    with pytest.raises(StorageError, match=f"cannot write {tmp_path / 'metrics.jsonl'}: No space left on device"):
        logger.log(5, {"loss": 1.0})
