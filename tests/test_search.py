"""Search (README: Search): objective.* returned to Hydra's Optuna sweeper, failed trials that do not end the
study, the fused launcher's members, the search summary of `latentcli evaluate sweep=`, hparams_search presets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import TINY_TOY, run_cli
from latentcli.errors import UserError
from latentcli.paths import config_dir
from latentcli.tasks import objective

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the search extra: pip install 'latentcli[search]'")

# a study on the CPU in seconds: the GAN on the grid, scored by the PacGAN protocol's modes (no inversion)
STUDY = ["-m", "hydra/sweeper=optuna", "hydra.sweeper.direction=maximize",
         "model=gan", *TINY_TOY, "trainer.max_steps=20", "objective.metric=pacgan.modes",
         "objective.evaluate=['n_samples=500']", "hydra.sweep.subdir=${hydra.job.num}"]


def test_combine_reads_weighted_terms():
    goal = OmegaConf.create({"metric": None, "combine": ["pacgan.modes", "0.5*pacgan.high_quality"],
                             "direction": "maximize"})
    assert objective.terms(goal) == [(1.0, "pacgan.modes"), (0.5, "pacgan.high_quality")]
    assert objective.describe(goal) == "pacgan.modes + 0.5*pacgan.high_quality"
    with pytest.raises(UserError, match=r"'x\*pacgan.modes' is not \[WEIGHT\*\]METRIC"):
        objective.terms(OmegaConf.create({"metric": None, "combine": ["x*pacgan.modes"]}))


def test_a_search_needs_an_objective_that_seeks_its_direction():
    none = OmegaConf.create({"metric": None, "combine": [], "direction": "maximize"})
    modes = OmegaConf.create({"metric": "pacgan.modes", "combine": [], "direction": "maximize"})
    assert objective.problem(none, OmegaConf.create({"_target_": "basic"})) is None  # a plain sweep
    assert "needs a number from each" in objective.problem(none, OmegaConf.create({"direction": "maximize"}))
    assert "hydra.sweeper.direction=minimize" in objective.problem(modes, OmegaConf.create({"direction": "minimize"}))
    assert objective.problem(modes, OmegaConf.create({"direction": "maximize"})) is None
    typo = OmegaConf.create({"metric": "pacgn.modes", "combine": [], "direction": "maximize"})
    assert "pacgn.modes is not METRIC.KEY" in objective.problem(typo, None)


@pytest.mark.slow
def test_a_study_survives_a_failed_trial_and_names_its_best(tmp_path):
    # model.d_steps=2 fails at run time (simultaneous updates take one step each): a FAIL trial, not the end.
    # The random sampler with seed 0 asks for d_steps 2, then 1. (Not the grid sampler: hydra-optuna-sweeper 1.3
    # ends a grid study whose last trial failed with a RuntimeError of its own.)
    sweep_dir = tmp_path / "study"
    proc = run_cli("train", *STUDY, "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0",
                   "model.updates=simultaneous", "model.d_steps=choice(1,2)",
                   f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.n_trials=2", cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr  # the study ran to its end; a failed job makes the status non-zero
    assert "setup plugin" not in proc.stdout + proc.stderr  # alembic's lines at import, quietened by the CLI
    assert "Failed experiment: Return value must be float-castable. Got 'no objective: the run failed " \
           "(model.updates=simultaneous" in proc.stdout + proc.stderr
    results = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert results.best_params == {"model.d_steps": 1}
    (done,) = [json.loads(p.read_text()) for p in sweep_dir.glob("*/objective.json")]
    assert results.best_value == done["value"] == done["terms"]["pacgan.modes"]
    assert done["objective"] == "pacgan.modes" and done["direction"] == "maximize"

    out = tmp_path / "evaluated"
    proc = run_cli("evaluate", f"sweep={sweep_dir}", "metrics=pacgan", "n_samples=500", f"hydra.run.dir={out}",
                   cwd=tmp_path)
    best = f"best trial: job 1, objective {results.best_value}, settings: model.d_steps=1"
    assert best in proc.stdout
    summary = (out / "summary.md").read_text()
    assert best in summary and f"| 1 | pacgan.modes | {done['value']} | best |" in summary


@pytest.mark.slow
def test_fused_members_hand_their_objectives_to_the_sweeper(tmp_path):
    # two seeds asked for at once (n_jobs=2) differ only in the seed: the fused launcher trains them as one group
    sweep_dir = tmp_path / "study"
    proc = run_cli("train", *STUDY, "hydra/sweeper/sampler=grid", "hydra/launcher=fused", "hydra.sweeper.n_jobs=2",
                   "seed=choice(0,1)", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert "1 group(s)" in proc.stdout
    values = [json.loads(p.read_text())["value"] for p in sweep_dir.glob("*/objective.json")]
    assert len(values) == 2
    assert OmegaConf.load(sweep_dir / "optimization_results.yaml").best_value == max(values)


def test_the_pacgan_grid25_search_keeps_the_papers_protocol():
    """hparams_search=pacgan_grid25 trains each trial as experiment=paper/pacgan_grid25 does, but for the
    settings it searches and the update rule (its d_steps and g_steps need alternating updates)."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        search = compose("train", ["hparams_search=pacgan_grid25"], return_hydra_config=True)
        paper = compose("train", ["experiment=paper/pacgan_grid25", "model=alice"])
    searched = {key.removeprefix("model.").split(".")[0] for key in search.hydra.sweeper.params}
    for key in set(paper.model) - searched - {"updates"}:
        assert search.model[key] == paper.model[key], key
    assert search.batch_size == paper.batch_size and search.dataset == paper.dataset
    assert search.hydra.sweeper.direction == search.objective.direction == "maximize"
    assert objective.problem(search.objective, search.hydra.sweeper) is None


def test_a_missing_optuna_sweeper_names_the_extra():
    from hydra.errors import MissingConfigException

    from latentcli.cli import composition_error

    err = MissingConfigException("In 'hydra/config': Could not find 'hydra/sweeper/optuna'\nAvailable options in "
                                 "'hydra/sweeper':\n\tbasic", missing_cfg_file="hydra/sweeper/optuna")
    assert composition_error(err, "train") == (
        "In 'hydra/config': Could not find 'hydra/sweeper/optuna' Available options in 'hydra/sweeper': basic; "
        "the Optuna sweeper is the search extra: pip install 'latentcli[search]'")


@pytest.mark.slow
def test_ctrl_c_in_a_search_says_it_cannot_be_continued_and_keeps_its_trials(tmp_path):
    """The same command with resume=auto would ask Optuna for new trials (its study was in memory) and start job
    numbers at 0 again: the stop line must not promise that it continues the search."""
    sweep_dir = tmp_path / "study"
    args = [*STUDY, "hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0", "hydra.sweeper.n_trials=2",
            "model.lr_g=interval(1e-4,1e-3)", "trainer.max_steps=100000", "trainer.checkpoint_every=10"]
    proc = subprocess.Popen([sys.executable, "-m", "latentcli", "train", *args, f"hydra.sweep.dir={sweep_dir}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list(sweep_dir.glob("0/checkpoints/step-00000020.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert stdout.splitlines()[-1] == (
        f"the sweep stops here (SIGINT); a search cannot be continued: its finished trials stay in {sweep_dir} "
        f"(latentcli evaluate sweep={sweep_dir} compares them); start it again in a new hydra.sweep.dir "
        "(with hydra.sweeper.storage=sqlite:///FILE.db Optuna keeps its study on disk, to continue)")
    assert (sweep_dir / "0" / "checkpoints" / "last.ckpt").exists()


@pytest.mark.slow
def test_a_search_kept_on_disk_continues_in_a_new_folder(tmp_path):
    """hydra.sweeper.storage keeps Optuna's study in a file: the search started again in a new folder, with
    another sampler seed, adds its trials to the first run's, and names the best of all of them."""
    import optuna

    storage = f"sqlite:///{tmp_path / 'search.db'}"
    search = [*STUDY, "hydra/sweeper/sampler=random", "hydra.sweeper.n_trials=2", "model.lr_g=interval(1e-4,1e-3)",
              f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=grid"]
    for seed, folder in ((0, "first"), (1, "again")):
        run_cli("train", *search, f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweep.dir={tmp_path / folder}",
                cwd=tmp_path)
    trials = optuna.load_study(study_name="grid", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert len({t.params["model.lr_g"] for t in trials}) == 4  # the second seed repeats none of the first's
    scored = [json.loads(p.read_text())["value"] for p in sorted(tmp_path.glob("*/*/objective.json"))]
    assert sorted(t.value for t in trials) == sorted(scored)
    assert OmegaConf.load(tmp_path / "again" / "optimization_results.yaml").best_value == max(scored)


@pytest.mark.parametrize("storage", [None, "sqlite:///search.db"])
def test_a_stopped_search_says_whether_it_can_go_on(storage, tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from latentcli.tasks.train import sweep_stop_line

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", ["hydra/sweeper=optuna", f"hydra.sweeper.storage={storage or 'null'}"],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    try:
        line = sweep_stop_line("SIGTERM", tmp_path, "latentcli train -m hparams_search=pacgan_grid25")
    finally:
        HydraConfig.instance().cfg = None
    assert line.startswith("the sweep stops here (SIGTERM); ") and f"its finished trials stay in {tmp_path}" in line
    if storage is None:
        assert "a search cannot be continued" in line and "hydra.sweeper.storage=sqlite:///FILE.db" in line
    else:
        assert line.endswith(f"continue the search (its study is in {storage}) with: latentcli train -m "
                             "hparams_search=pacgan_grid25 hydra.sweep.dir=NEW_FOLDER hydra.sweeper.sampler.seed=ANOTHER_SEED")
