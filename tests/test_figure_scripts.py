"""benchmarks/anomaly_figure.py and sample_sheet.py: the numbers they plot and the pictures they lay out, from
constructed runs (no training)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import anomaly_figure  # noqa: E402
import sample_sheet  # noqa: E402


def run(model: str, seed: int, normal: int, latent_knn: float, knn: float) -> dict:
    return {"model": model, "seed": seed, "step": 10, "classes": (normal,),
            "anomaly": {"latent_knn": {"auroc": latent_knn}, "reconstruction": {"auroc": 0.5},
                        "baselines": {"knn": {"auroc": knn}}}}


def test_seeds_are_averaged_over_classes_first_then_mean_and_standard_error():
    runs = [run("vae", 0, 0, 0.90, 0.8), run("vae", 0, 1, 0.70, 0.6),  # seed 0: mean 0.80 over its classes
            run("vae", 1, 0, 0.95, 0.8), run("vae", 1, 1, 0.85, 0.6),  # seed 1: mean 0.90
            run("bigan", 0, 0, 0.60, 0.8)]
    summary = anomaly_figure.summarise(runs, "latent_knn")
    mean, se, seeds, count = summary["overall"]["vae", "latent_knn"]
    assert (mean, seeds, count) == (pytest.approx(0.85), 2, 4)
    assert se == pytest.approx(math.sqrt(0.005) / math.sqrt(2))  # stdev of (0.80, 0.90) over sqrt(2)
    assert summary["overall"]["bigan", "latent_knn"][:3] == (pytest.approx(0.60), 0.0, 1)  # one seed: no spread
    assert summary["per_class"]["vae"][(1,)] == (pytest.approx(0.775), pytest.approx(0.075))  # 0.70, 0.85
    assert summary["baselines"] == {"knn": {(0,): 0.8, (1,): 0.6}}
    assert summary["models"] == ["vae", "bigan"] and summary["names"]["vae"] == "vae (10 steps)"


def test_the_picture_is_written(tmp_path):
    runs = [run("vae", s, c, 0.8 + 0.01 * s, 0.7) for s in (0, 1) for c in (0, 1, 2)]
    path = tmp_path / "anomaly.png"
    anomaly_figure.plot(anomaly_figure.summarise(runs, "latent_knn"), "latent_knn", path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def fake_run(folder: Path, model: str, seed: int, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(f"model:\n  name: {model}\nseed: {seed}\n")
    (folder / "samples").mkdir()
    Image.new("RGB", (20, 10), colour).save(folder / "samples" / "step-00000100.png")


def test_the_sample_sheet_puts_a_model_per_row_and_its_seeds_in_order(tmp_path):
    from PIL import Image

    sweep = tmp_path / "sweep"
    fake_run(sweep / "0_b", "veegan", 1, (0, 0, 255))
    fake_run(sweep / "1_a", "veegan", 0, (0, 255, 0))
    fake_run(sweep / "2_c", "ali", 0, (255, 0, 0))
    out = tmp_path / "sheet.png"
    assert sample_sheet.main([str(out), str(sweep), "--width", "40", "--step", "100"]) == 0
    sheet = Image.open(out).convert("RGB")
    assert sheet.size == (80, 40)  # 2 columns of 40 px; 2 rows of 20 px (each picture keeps its 2:1 shape)
    # rows by model name, columns by seed: ali's one run on top, veegan's seeds 0 and 1 below; the gap stays white
    assert [sheet.getpixel(xy) for xy in [(20, 10), (60, 10), (20, 30), (60, 30)]] == [
        (255, 0, 0), (255, 255, 255), (0, 255, 0), (0, 0, 255)]


def test_the_sample_sheet_refuses_a_folder_without_pictures_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        sample_sheet.main([str(tmp_path / "sheet.png"), str(tmp_path)])
    assert exit_.value.code == 2 and "no sample pictures found" in capsys.readouterr().err
    assert not (tmp_path / "sheet.png").exists()
