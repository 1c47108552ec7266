"""The recorded experiments (configs/experiment/, benchmarks/*.sh): their sweeps run end to end at a tiny
budget, and benchmarks/table.py tabulates the summaries."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import run_cli, run_task

TABLE = Path(__file__).resolve().parent.parent / "benchmarks" / "table.py"
TINY_RING = ["dataset=ring8", "dataset.n_train=2048", "dataset.n_test=256", "batch_size=64", "model.width=32",
             "trainer.max_steps=5", "trainer.device=cpu", "hydra.launcher.n_jobs=1"]


def table(*args) -> str:
    return subprocess.run([sys.executable, str(TABLE), *map(str, args)], capture_output=True, text=True,
                          check=True).stdout


def test_toy_sweep_evaluates_skips_what_it_cannot_invert_and_tabulates(tmp_path):
    # command-line sweeps replace the experiment's: 2 models x 2 seeds, not 60 runs
    run_task("train", "-m", "experiment=toy_modes", "model=gan,bigan", "seed=0,1", *TINY_RING,
             f"hydra.sweep.dir={tmp_path / 'train'}")
    ckpts = sorted((tmp_path / "train").glob("*/checkpoints/last.ckpt"))
    configs = [torch.load(c, weights_only=True)["config"] for c in ckpts]
    assert [(c["model"]["name"], c["dataset"]["name"], c["seed"]) for c in configs] == [
        ("gan", "ring8", 0), ("gan", "ring8", 1), ("bigan", "ring8", 0), ("bigan", "ring8", 1)]
    small = ["n=50", "n_samples=200", "latent.n=20", "device=cpu"]
    run_task("evaluate", f"sweep={tmp_path / 'train'}", *small, "inference.steps=5", "inference.progress=false",
             f"hydra.run.dir={tmp_path / 'auto'}")
    lines = table(tmp_path / "auto", "--columns", "modes.modes_covered,modes.high_quality_fraction",
                  "--percent", "modes.high_quality_fraction").splitlines()
    assert lines[0] == "| model | inference | runs | modes.modes_covered | modes.high_quality_fraction |"
    assert [line.split(" | ")[:3] for line in lines[2:]] == [["| gan", "optimize", "2"], ["| bigan", "encoder", "2"]]
    # inference=encoder cannot invert the plain GAN: its runs are skipped, the BiGAN's still count
    run_task("evaluate", f"sweep={tmp_path / 'train'}", *small, "inference=encoder",
             f"hydra.run.dir={tmp_path / 'enc'}")
    summary = list(csv.DictReader((tmp_path / "enc" / "summary.csv").open()))
    assert [row["runs"] for row in summary] == ["2"]  # one configuration: nothing to label it by
    where = (tmp_path / "enc" / "summary.md").read_text().split("Where the runs ran:")[1].splitlines()[4:]
    assert [line.split(" | ")[0] for line in where if line] == ["| 2", "| 3"]  # the BiGAN's jobs, not the skipped GAN's
    only_gan = tmp_path / "only_gan"
    only_gan.mkdir()
    (only_gan / "run").symlink_to(ckpts[0].parent.parent)
    proc = run_cli("evaluate", f"sweep={only_gan}", *small, "inference=encoder", f"hydra.run.dir={tmp_path / 'x'}",
                   check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "has no encoder" in proc.stderr


def test_anomaly_experiment_sweeps_its_ten_classes(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))  # the pixel baselines' cache
    # the experiment's own class sweep ([0],...,[9]) on digits, one seed, a few steps each
    run_task("train", "-m", "experiment=fmnist_anomaly", "dataset=digits", "seed=0", "trainer.max_steps=3",
             "trainer.device=cpu", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={tmp_path / 'train'}")
    ckpts = sorted((tmp_path / "train").glob("*/checkpoints/last.ckpt"))
    assert len(ckpts) == 10
    normal = sorted(torch.load(c, weights_only=True)["config"]["dataset"]["classes"][0] for c in ckpts)
    assert normal == list(range(10))
    run_task("evaluate", f"sweep={tmp_path / 'train'}", "metrics=[anomaly]", "n=null", "device=cpu",
             f"hydra.run.dir={tmp_path / 'ev'}")
    lines = table(tmp_path / "ev", "--columns", "anomaly.reconstruction.auroc", "--mean-row").splitlines()
    assert len(lines) == 2 + 10 + 1 and lines[2].startswith("| [0] | 1 | ")
    aurocs = [float(line.split(" | ")[2].rstrip(" |")) for line in lines[2:12]]
    assert float(lines[-1].split(" | ")[-1].rstrip(" |")) == pytest.approx(sum(aurocs) / 10, abs=1e-3)
    # benchmarks/anomaly_table.py: per model and score the mean over classes (one seed: no spread), the baselines
    out = subprocess.run([sys.executable, str(TABLE.parent / "anomaly_table.py"), str(tmp_path / "ev")],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    vae = next(line for line in out if line.startswith("| vae (3) |"))
    assert vae.split(" | ")[1].endswith(" (10)")
    assert float(vae.split(" | ")[1].split()[0]) == pytest.approx(sum(aurocs) / 10, abs=1.5e-3)
    assert sum(line.startswith("| pixels: ") and "(10 classes)" in line for line in out) == 3


def test_table_of_constructed_summaries(tmp_path):
    for job, (a, b) in {"encoder": (0.8, 0.6), "optimize": (0.9, 0.7)}.items():
        (tmp_path / job).mkdir()
        (tmp_path / job / "summary.csv").write_text(
            "model,runs,x mean,x std,y mean,y std\n"
            f"gan,2,{a},0.1,10.0,0\n"
            f"vae,1,{b},0,,\n")
    lines = table(tmp_path, "--columns", "x,y", "--percent", "x", "--mean-row").splitlines()
    assert lines == [
        "| job | model | runs | x | y |",
        "| --- | --- | --- | --- | --- |",
        "| encoder | gan | 2 | 80 ± 10 | 10 ± 0 |",  # two runs that agree: a spread of 0 was measured
        "| encoder | vae | 1 | 60 | - |",  # one run: no spread to show
        "| optimize | gan | 2 | 90 ± 10 | 10 ± 0 |",
        "| optimize | vae | 1 | 70 | - |",
        "| **mean** |  |  | 75 | 10 |",
    ]


def test_a_summary_shows_no_spread_for_a_single_seed(tmp_path):
    from latentcli import sweep

    results = [({"model": "gan", "dataset": "digits"}, {"recon": {"psnr": 20.0}}),
               ({"model": "vae", "dataset": "digits"}, {"recon": {"psnr": 22.0}}),
               ({"model": "vae", "dataset": "digits"}, {"recon": {"psnr": 24.0}})]
    sweep.summarise(results, tmp_path, "recon.psnr")
    md = (tmp_path / "summary.md").read_text().splitlines()
    assert md[2:] == ["| model | runs | recon.psnr |", "| --- | --- | --- |",
                      "| gan | 1 | 20 |", "| vae | 2 | 23 ± 1.4 |"]
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [(r["runs"], r["recon.psnr std"]) for r in rows] == [("1", ""), ("2", str(2 ** 0.5))]
    assert (tmp_path / "summary.png").is_file()  # the bar plot takes the missing spread as no error bar


def test_sweep_runs_are_read_in_job_order(tmp_path):
    from latentcli.sweep import find_runs

    for name in ["10_model-gan", "2_model-vae", "adhoc"]:
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        (tmp_path / name / "checkpoints" / "last.ckpt").touch()
    (tmp_path / "no_checkpoint").mkdir()
    assert [p.name for p in find_runs(tmp_path)] == ["adhoc", "2_model-vae", "10_model-gan"]


def test_table_warns_of_a_misspelt_column(tmp_path):
    (tmp_path / "summary.csv").write_text("model,runs,recon.psnr mean,recon.psnr std\ngan,1,20.0,0\n")
    proc = subprocess.run([sys.executable, str(TABLE), str(tmp_path), "--columns", "recon.psnrr"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "| gan | 1 | - |"
    assert proc.stderr.strip() == ("table.py: warning: no column 'recon.psnrr' in these summaries; "
                                   "did you mean recon.psnr?")


def test_study_toy_trains_evaluates_every_checkpoint_and_tests_the_models(tmp_path):
    """benchmarks/study.py (issue 23) on the 2-D data end to end at a tiny budget: the preset's sweep with command-line models
    and seeds, the final and the intermediate checkpoints evaluated, the tables, the tests and the figures; run
    again, it evaluates nothing twice."""
    script = TABLE.parent / "study.py"
    tiny = ["model=gan,bigan", "seed=0,1", "dataset.n_train=2048", "dataset.n_test=256", "batch_size=64",
            "model.width=32", "trainer.max_steps=4", "trainer.checkpoint_every=2", "trainer.device=cpu"]
    small = "n=50 n_samples=200 latent.n=20 inference.steps=5 inference.progress=false device=cpu"
    out = tmp_path / "study"
    proc = subprocess.run([sys.executable, str(script), str(out), *tiny, "--evaluate", small],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = list(csv.DictReader((out / "runs.csv").open()))
    assert sorted((r["model"], r["seed"], r["step"]) for r in runs) == [
        ("bigan", "0", "4"), ("bigan", "1", "4"), ("gan", "0", "4"), ("gan", "1", "4")]
    assert {r["inference"] for r in runs if r["model"] == "gan"} == {"optimize"}
    curves = list(csv.DictReader((out / "curves.csv").open()))
    assert sorted({(r["run"], r["step"]) for r in curves}) == sorted(
        (r["run"], step) for r in runs for step in ("2", "4"))
    text = (out / "study.md").read_text()
    assert "| bigan vs gan | HQ % |" in text and "| bigan | 2 | 4 |" in text and "| gan | HQ % | 2 | 4 |" in text
    assert text.count("| bigan vs gan | HQ % |") == 2  # the last checkpoint, then the last quarter's average
    for png in ("q1_quality_vs_inference.png", "q3_hybrids.png", "learning_curves.png"):
        assert (out / png).stat().st_size > 10000
    again = subprocess.run([sys.executable, str(script), str(out), "--no-train", "--evaluate", small],
                           capture_output=True, text=True, check=True)
    assert "learning curves: 0 checkpoints to evaluate" in again.stdout


def test_the_study_trend_finds_a_steady_rise_that_the_two_end_points_miss():
    sys.path.insert(0, str(TABLE.parent))
    import study

    def curves(rise_per_1000: float) -> list[dict]:
        # 5 seeds, a checkpoint every 1,000 steps to 20,000, each seed with its own wobble of +-0.03
        wobble = [0.0, 0.03, -0.03, 0.02, -0.02, 0.01, -0.01]
        return [{"model": "vae", "seed": seed, "step": step,
                 "hq": 0.4 + rise_per_1000 * step / 1000 + wobble[(step // 1000 + seed) % 7]}
                for seed in range(5) for step in range(1000, 20_001, 1000)]

    start, last, slope, se, p = study.trend(curves(0.005), "vae", "hq")  # +0.05 per 10,000 steps
    assert (start, last) == (10_000, 20_000) and slope == pytest.approx(0.05, abs=0.005) and p < 0.001
    assert study.plateau(curves(0.005), "vae", "hq")[4] > 0.05  # 15,000 against 20,000 alone: within the wobble
    assert study.trend(curves(0.0), "vae", "hq")[4] > 0.5  # no rise: no trend


def test_the_study_last_quarter_average_is_each_seeds_mean_after_three_quarters_of_the_steps():
    sys.path.insert(0, str(TABLE.parent))
    import study

    # seed s swings between 0.2 and 0.8 from checkpoint to checkpoint; its last checkpoint alone says 0.8 or 0.2
    curves = [{"model": "vaegan", "seed": seed, "step": step, "hq": 0.2 + 0.6 * ((step // 1000 + seed) % 2)}
              for seed in range(2) for step in range(1000, 8001, 1000)]
    curves += [{"model": "vae", "seed": 0, "step": step, "hq": None if step == 8000 else step / 10_000}
               for step in range(1000, 8001, 1000)]
    rows = {(r["model"], r["seed"]): r for r in study.last_quarter(curves, ["hq"])}
    assert rows[("vaegan", 0)]["checkpoints"] == 2  # 7,000 and 8,000: after 3/4 of 8,000
    assert rows[("vaegan", 0)]["hq"] == pytest.approx(0.5) and rows[("vaegan", 1)]["hq"] == pytest.approx(0.5)
    assert rows[("vae", 0)]["hq"] == pytest.approx(0.7)  # a missing value is left out, not counted as zero
