"""Sweeps through Hydra's submitit launcher: a job stopped by its time-out signal is requeued by submitit,
resumes from its own checkpoint (resume=auto) with the same command line, and ends bitwise equal to
a job that was never interrupted. Runs on submitit's local executor: no cluster needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import TINY_TOY, states_equal
from latentcli.engine import checkpoint as ckpt_io

pytest.importorskip("hydra_plugins.hydra_submitit_launcher")


@pytest.mark.slow
def test_timed_out_job_is_requeued_and_resumes_bitwise(tmp_path):
    sweep = tmp_path / "sweep"
    # two jobs identical but for how often they log (which changes no number): job 0 gets the time-out
    # signal mid-run, job 1 runs straight through
    cmd = [sys.executable, "-m", "latentcli", "train", "-m", "hydra/launcher=submitit_local", "model=gan",
           *TINY_TOY, "trainer.log_every=50,51", "trainer.max_steps=600", "trainer.checkpoint_every=200",
           "resume=auto", "hydra.launcher.timeout_min=5", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        log = None
        for _ in range(600):  # until job 0 has logged step 50
            log = next(sweep.glob("0_*/metrics.jsonl"), None)
            if log is not None and log.read_text().strip():
                break
            time.sleep(0.1)
        run = log.parent
        # what Slurm sends before the time limit (submitit's --signal=USR2@signal_delay_s); the local
        # executor sends the same at timeout_min minus 30 s
        os.kill(json.loads((run / "run_info.json").read_text())["pid"], signal.SIGUSR2)
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    job_logs = "".join(p.read_text() for p in sweep.glob(".submitit/*/*_0_log.*"))
    assert "Caught signal SIGUSR2" in job_logs and "this job is timed-out" in job_logs  # counted as a time-out
    resumed_at = int((run / "resumes.log").read_text().split("resumed at step ")[1].split(":")[0])
    assert 50 <= resumed_at < 600  # stopped mid-run, saved, and the requeued job went on from there
    straight = next(sweep.glob("1_*"))
    a, b = (ckpt_io.load(r / "checkpoints" / "last.ckpt") for r in (run, straight))
    assert a["step"] == b["step"] == 600
    for key in ("model", "optimizers", "rng"):
        assert states_equal(a[key], b[key]), key
    assert json.loads((run / "run_info.json").read_text())["launcher"] == "submitit_local"

