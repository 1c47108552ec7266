"""`latentcli evaluate` end to end: every metric on a tiny checkpoint, the report, anomaly, the sweep summary.
(The metrics' known answers are in test_metrics.py.)"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from conftest import TINY_TOY, run_task
from latentcli.errors import UserError


DIGITS = ["dataset=digits", "model.width=8", "batch_size=16", "trainer.device=cpu", "trainer.progress=false",
          "trainer.tensorboard=false", "trainer.max_steps=30", "trainer.sample_every=30"]


@pytest.fixture(scope="module")
def digits_sweep(tmp_path_factory) -> Path:
    """`train -m model=gan,bigan` on the digits, 30 steps, trained once for the module and only read. Its bigan
    job is bitwise the run `train model=bigan` with the same settings makes (the same seed and data order)."""
    sweep = tmp_path_factory.mktemp("digits_sweep")
    run_task("train", "-m", "model=gan,bigan", *DIGITS, f"hydra.sweep.dir={sweep}")
    return sweep


@pytest.fixture
def digits_bigan(digits_sweep) -> Path:
    """The checkpoint of a bigan trained 30 steps on the digits (the sweep's job 1)."""
    (job,) = digits_sweep.glob("1_*model-bigan*")
    return job / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def toy_sweep(tmp_path_factory) -> Path:
    """gan and bigan, two seeds each, 5 steps on the grid: trained once for the module and only read."""
    sweep = tmp_path_factory.mktemp("toy_sweep")
    run_task("train", "-m", "model=gan,bigan", "seed=0,1", *TINY_TOY, "trainer.max_steps=5", f"hydra.sweep.dir={sweep}")
    return sweep


def test_evaluate_every_image_metric_writes_metrics_and_report(tmp_path, monkeypatch, digits_bigan):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "ev"
    run_task("evaluate", f"ckpt={digits_bigan}",
             "metrics=[recon,latent,quality,probe,compression]", "n=100", "n_samples=200", "latent.n=50",
             "probe.n_train=200", "quality.classifier_steps=30", "device=cpu", f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"recon", "latent", "quality", "probe", "compression"}
    # known answers: the bundled digits are easy (a classifier of 30 steps, and 1-NN on 200 raw pixel vectors,
    # are right about 9 times in 10; both measured 0.96 and 0.93), and the encoder keeps much of the class
    # (latent 1-NN 0.88 at step 30, chance 0.1). Quality's own known answers are in test_metrics.py.
    quality = metrics["quality"]
    assert quality["classifier_test_accuracy"] > 0.9 and quality["feature_space"]["fid"] == "classifier (digits), 128-d"
    assert (quality["n_real"], quality["n_fake"], quality["kid_std"]) == (100, 100, None)  # < 2,000 items: no spread
    assert metrics["probe"]["n_train"] == 200 and metrics["probe"]["pixels"]["1nn"] > 0.85
    assert metrics["probe"]["latent"]["1nn"] > 0.5
    assert [row["bits_per_dim"] for row in metrics["compression"]["latent"]] == [32, 8, 6, 4, 3, 2]
    # 32 bits a dimension is the latent itself: its reconstruction is recon's
    assert metrics["compression"]["latent"][0]["psnr"] == pytest.approx(metrics["recon"]["psnr"], rel=1e-6)
    assert metrics["compression"]["latent_psnr"]["8_bits"] == metrics["compression"]["latent"][1]["psnr"]
    report = (out / "report.md").read_text()
    for picture in ("samples.png", "reconstructions.png", "latents_pca.png", "rate_distortion.png", "curves.png"):
        assert f"]({picture})" in report and (out / picture).stat().st_size > 0
    key = metrics["quality"]["feature_classifier"]  # the name, shape, steps and a fingerprint of the data
    assert key.startswith("digits_1x16x16_30_") and (tmp_path / "cache" / "classifiers" / f"{key}.pt").is_file()


def test_quality_on_inception_features_from_a_weights_file_offline(tmp_path, monkeypatch, inception_weights,
                                                                   digits_bigan):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", None)  # nothing may be downloaded
    out = tmp_path / "ev"
    run_task("evaluate", f"ckpt={digits_bigan}", "metrics=quality", "n=3",
             "n_samples=3", "quality.classifier_steps=5", f"quality.inception_weights={inception_weights}",
             "device=cpu", f"hydra.run.dir={out}")  # 299 px Inception on the CPU: a handful of images
    quality = json.loads((out / "metrics.json").read_text())["quality"]
    assert math.isfinite(quality["fid"]) and quality["fid"] > 0 and 0 <= quality["coverage"] <= 1
    assert quality["feature_space"]["fid"] == quality["feature_space"]["kid"] == \
        "inception_v3 pool3, 2048-d (pt_inception-2015-12-05-6726825d.pth)"
    assert quality["feature_space"]["inception_score"].startswith("classifier (digits)")
    assert "inception_v3 pool3" in (out / "report.md").read_text()


def test_anomaly_on_a_one_class_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))  # the pixel baselines' cache
    run_task("train", "model=bigan", *DIGITS, "dataset.classes=[0]", f"hydra.run.dir={tmp_path / 'run'}")
    out = tmp_path / "ev"
    run_task("evaluate", f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", "metrics=[anomaly]", "n=null",
             "device=cpu", f"hydra.run.dir={out}")
    anomaly = json.loads((out / "metrics.json").read_text())["anomaly"]
    assert anomaly["normal_classes"] == [0] and anomaly["anomaly_fraction"] == pytest.approx(324 / 360)
    scores = {"reconstruction", "feature", "egbad", "prior_nll", "latent_knn"}
    assert scores <= set(anomaly) and set(anomaly["baselines"]) == {"knn", "pca", "ocsvm"}
    # zeros against the other nine digits: obvious anomalies. The pixel kNN finds them all (AUROC 1.0), and so
    # must the model's latent kNN, even at step 30 (measured 1.0); its reconstruction and EGBAD scores 0.94.
    # A score turned the wrong way round would read 1 - AUROC. (prior_nll is below chance here, 0.17: the
    # zeros' latents lie farther out; nothing is claimed for it.)
    assert anomaly["baselines"]["knn"]["auroc"] > 0.95 and anomaly["latent_knn"]["auroc"] > 0.95
    assert anomaly["reconstruction"]["auroc"] > 0.85 and anomaly["egbad"]["auroc"] > 0.85
    assert (out / "roc.png").exists()
    from test_storage import refused

    code, err = refused(capsys, "evaluate", f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}",
                        "metrics=[modes]", f"hydra.run.dir={tmp_path / 'bad'}")
    assert code == 2 and "needs a 2-D mixture" in err


def test_sweep_summary_over_two_seeds(tmp_path, toy_sweep):
    sweep = toy_sweep
    out = tmp_path / "summary"
    run_task("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "inference.steps=5",
             "inference.progress=false", "device=cpu", f"hydra.run.dir={out}")
    lines = (out / "summary.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 3 and header[:3] == ["model", "inference", "runs"]  # one row per model; seeds averaged
    assert "modes.modes_covered mean" in header and "modes.modes_covered std" in header
    assert all(line.split(",")[2] == "2" for line in lines[1:])
    assert (out / "summary.md").exists() and (out / "summary.png").exists()
    assert len(list(out.glob("*/metrics.json"))) == 4
    import socket  # each run recorded where it ran, and the summary shows it

    first = next(sweep.glob("0_*"))
    info = json.loads((first / "run_info.json").read_text())
    assert info["host"] == socket.gethostname() and info["device"] == "cpu" and info["world_size"] == 1
    assert info["launcher"] == "basic"
    where = (out / "summary.md").read_text().split("Where the runs ran:")[1]
    assert f"| 0 | {socket.gethostname()} | cpu, " in where and "| 1 | basic |" in where


def test_counts_take_the_right_number():
    from latentcli.report import counted

    assert [counted(n, "configuration") for n in (0, 1, 2)] == ["0 configurations", "1 configuration",
                                                                 "2 configurations"]


def test_readme_method_comparison_runs_as_written(tmp_path, capsys, digits_sweep):
    readme = (Path(__file__).resolve().parents[1] / "docs/guides/sweeps.md").read_text()
    command = re.search(r"<!-- method-comparison -->\n```\n(.*?)\n```", readme, re.S).group(1).split()
    assert command[:4] == ["latentcli", "evaluate", "-m", "sweep=DIR"]
    sweep = digits_sweep
    capsys.readouterr()
    # the command as written but for its placeholder and its budget (as test_docs.py adapts the docs' commands)
    adapted = [f"sweep={sweep}" if word == "sweep=DIR" else "inference.steps=5" if word.startswith("inference.steps=")
               else word for word in command[1:]]
    run_task(*adapted, "n=16", "latent.n=8",
             "n_samples=32", "inference.progress=false", "device=cpu", f"hydra.sweep.dir={tmp_path / 'methods'}")
    jobs = sorted(p.name for p in (tmp_path / "methods").iterdir() if p.is_dir())
    assert [job.split("_inference-")[1].split("_")[0] for job in jobs] == ["encoder", "optimize", "hybrid"]
    assert all("++" not in job for job in jobs)
    runs = {job: (tmp_path / "methods" / job / "summary.csv").read_text().splitlines()[1:] for job in jobs}
    assert [len(rows) for rows in runs.values()] == [1, 2, 1]  # the gan has no encoder: skipped by two methods
    assert "note: inference=encoder does not read inference.steps" in capsys.readouterr().err


def test_metrics_take_one_bare_name_or_a_list():
    from omegaconf import OmegaConf

    from latentcli.data.stream import DataInfo
    from latentcli.tasks.evaluate import metric_names

    info = DataInfo("digits", [1, 16, 16], "image")
    assert metric_names(OmegaConf.create({"metrics": "recon"}), info) == ["recon"]
    assert metric_names(OmegaConf.create({"metrics": ["recon", "probe"]}), info) == ["recon", "probe"]
    with pytest.raises(UserError, match="unknown metric\\(s\\) recn"):
        metric_names(OmegaConf.create({"metrics": "recn"}), info)


def test_models_against_methods_in_one_table(tmp_path, capsys, toy_sweep):
    """issue 24: `evaluate sweep=` on the folder `evaluate -m ... inference=A,B` wrote gives one table, models
    against methods, mean ± standard error over the seeds; and a slow method says what it will cost first."""
    sweep = toy_sweep
    capsys.readouterr()
    methods = tmp_path / "methods"
    run_task("evaluate", "-m", f"sweep={sweep}", "inference=encoder,optimize", "inference.steps=4", "n=20",
             "metrics=recon", "inference.progress=false", "device=cpu", f"hydra.sweep.dir={methods}")
    printed = capsys.readouterr().out
    # before each of the four optimisations (two models, two seeds), none before the encoder's forward pass
    assert printed.count("inference=optimize: 20 test items x up to 4 steps (80 item-steps), up to about ") == 4
    assert "inference=encoder:" not in printed
    run_task("evaluate", f"sweep={methods}", f"hydra.run.dir={tmp_path / 'compare'}")
    assert "models against inversion methods: wrote" in capsys.readouterr().out
    mse = {}  # (model, method): the two seeds' recon.mse
    for path in methods.glob("*/*/metrics.json"):
        metrics = json.loads(path.read_text())
        mse.setdefault((metrics["model"], metrics["inference"]), []).append(metrics["recon"]["mse"])
    assert sorted(mse) == [("bigan", "encoder"), ("bigan", "optimize"), ("gan", "optimize")]
    table = (tmp_path / "compare" / "compare.md").read_text()
    rows = table.split("### recon.mse\n\n")[1].split("\n\n")[0].splitlines()
    assert rows[0] == "| model | encoder | optimize |"

    def cell(values):
        mean, se = sum(values) / 2, abs(values[0] - values[1]) / 2  # two seeds: std / sqrt(2) = |a - b| / 2
        return f"{mean:.4g} ± {se:.2g} (n=2)"

    assert rows[2] == f"| gan | n/a | {cell(mse['gan', 'optimize'])} |"  # a gan has no encoder
    assert rows[3] == f"| bigan | {cell(mse['bigan', 'encoder'])} | {cell(mse['bigan', 'optimize'])} |"
    assert table.index("### time per image (ms)") < table.index("### recon.mse")
    lines = (tmp_path / "compare" / "compare.csv").read_text().splitlines()
    assert lines[0] == "model,method,metric,mean,se,seeds"
    assert any(line.startswith("gan,optimize,recon.mse,") and line.endswith(",2") for line in lines)
