"""latentcli evaluate: every requested metric on a checkpoint (or on each run of a sweep), written as
metrics.json and report.md with pictures."""

from __future__ import annotations

import sys
from pathlib import Path

from latentcli import compare, report, sweep, viz
from latentcli.data import build_dataset
from latentcli.engine import checkpoint as ckpt_io
from latentcli.errors import UserError
from latentcli.files import write_json
from latentcli.inference import build_inverter
from latentcli.metrics import METRICS
from latentcli.metrics.context import EvaluationContext
from latentcli.models import load_checkpoint
from latentcli.tasks.common import (load_model, load_regressor, run_dir, save_hydra_record, seed_everything,
                                    stored_dataset, warn_of_other_data)
from latentcli.tasks.inputs import count_or_all

# the sweep summary's bar plot when summary_metric is not set: the first of these the runs have
SUMMARY_METRICS = (("pacgan", "pacgan.modes"), ("veegan", "veegan.modes"), ("alice", "alice.mse"),
                   ("bigan", "bigan.nnc_e"),
                   ("modes", "modes.modes_covered"), ("recon", "recon.psnr"))

# A metric over fewer test items than MIN_TEST_ITEMS is mostly noise (over 5 items one item moves an accuracy by
# 20 points); so is a probe's accuracy where a class has fewer than MIN_PER_CLASS test items. Below either,
# evaluate warns (stderr, metrics.json's "warnings", report.md) and still reports the numbers.
MIN_TEST_ITEMS = 50
MIN_PER_CLASS = 10
# the metrics measured on the test items, all or in part (latent, pacgan, veegan, alice draw their own items)
ON_TEST_ITEMS = ("recon", "probe", "anomaly", "compression", "bigan", "modes", "quality")


def run(cfg) -> None:
    out = run_dir()
    save_hydra_record(cfg, out)
    if cfg.sweep:
        evaluate_sweep(cfg, out)
        return
    if cfg.get("model") is not None:  # model=external: a generator trained elsewhere
        metrics = evaluate_checkpoint(cfg, None, out)
        print(one_line(metrics))
        print(f"wrote {out / 'metrics.json'}, {out / 'report.md'}")
        return
    if not cfg.ckpt:
        raise UserError("no checkpoint given: add ckpt=PATH (e.g. outputs/train/<run>/checkpoints/last.ckpt), "
                        "or sweep=DIR for every run of a multirun")
    metrics = evaluate_checkpoint(cfg, Path(cfg.ckpt), out)
    print(one_line(metrics))
    print(f"wrote {out / 'metrics.json'}, {out / 'report.md'}")


def metric_names(cfg, info, dataset_cfg=None) -> list[str]:
    """cfg.metrics (a bare name or a list); else the run's dataset.metrics (a paper preset names its protocol
    there); else recon and latent, and modes on 2-D mixtures."""
    if cfg.metrics is not None:  # metrics=recon (one bare name) as well as metrics=[recon,latent]
        names = [cfg.metrics] if isinstance(cfg.metrics, str) else list(cfg.metrics)
    elif dataset_cfg is not None and dataset_cfg.metrics is not None:
        names = list(dataset_cfg.metrics)
    else:
        names = ["recon", "latent"] + (["modes"] if info.centres is not None else [])
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    return names


def evaluate_checkpoint(cfg, ckpt_path: Path | None, out: Path) -> dict:
    """ckpt_path None: model=external's generator."""
    seed_everything(cfg.seed)
    count_or_all(cfg.n)
    model, ckpt = load_checkpoint(ckpt_path, device=cfg.device) if ckpt_path is not None else load_model(cfg)
    dataset_cfg = stored_dataset(ckpt, cfg)
    data = build_dataset(dataset_cfg)
    warn_of_other_data(ckpt["data"], data.info)
    inverter = build_inverter(cfg.inference, model, seed=cfg.seed, regressor=load_regressor(cfg.inference))
    ctx = EvaluationContext(model, data, inverter, cfg, out)
    metrics = {"ckpt": str(ckpt_path or cfg.model.target), "model": ckpt["config"]["model"]["name"], "dataset": data.info.name,
               "step": ckpt["step"], "inference": inverter.method, "n_test": len(ctx.test)}
    if data.info.kind == "image":
        viz.save_image_grid(ctx.samples[:64], ctx.figure("Samples from the prior", "samples.png"))
    for name in metric_names(cfg, data.info, dataset_cfg):
        metrics[name] = METRICS[name].evaluate(ctx)
        write_json(out / "metrics.json", metrics)  # after each metric: a crash keeps what was measured
    warnings = too_few_items(metrics)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if warnings:
        metrics["warnings"] = warnings
        write_json(out / "metrics.json", metrics)
    report.write_report(out / "report.md", metrics, ctx.figures, report.training_curves(ckpt_path, out) if ckpt_path else None)
    if ckpt_path:
        report.log_to_run(ckpt_path, ckpt["config"], metrics, ctx.figures)
    return metrics


def too_few_items(metrics: dict) -> list[str]:
    """One line for each way the measured metrics rest on too few items to mean much (see MIN_TEST_ITEMS)."""
    lines = []
    on_test = [name for name in ON_TEST_ITEMS if name in metrics]
    if on_test and metrics["n_test"] < MIN_TEST_ITEMS:
        lines.append(f"{', '.join(on_test)} rest on {metrics['n_test']} test items (fewer than {MIN_TEST_ITEMS}): "
                     "differences this small are noise, not measurements")
    smallest = metrics.get("probe", {}).get("n_test_smallest_class")
    if smallest is not None and smallest < MIN_PER_CLASS:
        lines.append(f"probe: its smallest class has {smallest} test item{'s' if smallest != 1 else ''} (fewer than "
                     f"{MIN_PER_CLASS} a class): its accuracies say little")
    return lines


def evaluate_sweep(cfg, out: Path) -> None:
    if compare.is_evaluation(cfg.sweep):  # the folder `evaluate -m sweep=... inference=A,B` wrote
        table, numbers = compare.compare(Path(cfg.sweep).expanduser(), out)
        print(f"models against inversion methods: wrote {table}, {numbers}")
        return
    runs = sweep.find_runs(cfg.sweep)
    failed = sweep.failed_jobs(cfg.sweep)
    results, skipped, evaluated = [], [], []  # evaluated: (run, its dataset), for where the runs ran
    for i, run in enumerate(runs, 1):
        print(f"[{i}/{len(runs)}] {run.name}")
        try:
            metrics = evaluate_checkpoint(cfg, run / "checkpoints" / "last.ckpt", out / run.name)
        except UserError as err:  # e.g. inference=encoder on a plain GAN: the other runs still count
            print(f"  skipped: {err}")
            skipped.append(err)
            continue
        print("  " + one_line(metrics))
        settings = sweep.run_settings(ckpt_io.load(run / "checkpoints" / "last.ckpt")["config"])
        results.append(({**settings, "inference": metrics["inference"]}, metrics))
        evaluated.append((run, settings.get("dataset", "")))
    if not results:
        raise UserError(f"no run of the sweep could be evaluated; the first said: {skipped[0]}")
    by_dataset = sweep.split_by_dataset(results)
    if len(by_dataset) > 1:
        print(f"warning: these runs are on {len(by_dataset)} datasets ({', '.join(by_dataset)}): "
              f"one summary per dataset, never one table", file=sys.stderr)
    for dataset, part in by_dataset.items():
        stem = "summary" if len(by_dataset) == 1 else f"summary_{dataset}"
        main = cfg.summary_metric or next((m for key, m in SUMMARY_METRICS if key in part[0][1]), "step")
        plots = cfg.get("summary_plots")
        rows = sweep.summarise(part, out, main, stem, [plots] if isinstance(plots, str) else plots)
        # the runs in this table only: not a skipped one (a GAN under inference=encoder), nor another dataset's
        sweep.append_where_they_ran(out / f"{stem}.md", [run for run, data in evaluated if data == dataset])
        sweep.append_failed(out / f"{stem}.md", failed)
        search = sweep.append_search(out / f"{stem}.md", cfg.sweep)  # a search's trials and its best (optuna)
        print(f"{dataset}: {report.counted(len(part), 'run')} in {report.counted(len(rows), 'configuration')}: "
              f"wrote {out / stem}.csv, {stem}.md, {stem}.png")
    if search:
        print("\n".join(line for line in search[1:4] if line))  # the search's best trial and its settings
    if skipped:
        print(f"{report.counted(len(skipped), 'run')} skipped")
    for job, reason in failed.items():
        print(f"failed in training, listed in the summary: {job}: {reason}")



def one_line(metrics: dict) -> str:
    head = f"{metrics['model']} on {metrics['dataset']} (step {metrics['step']}, {metrics['inference']} inversion):"
    parts = []
    if "recon" in metrics:
        r = metrics["recon"]
        parts.append(f"recon MSE {r['mse']:.4g}" + (f", PSNR {r['psnr']:.2f} dB" if "psnr" in r else ""))
    if "latent" in metrics:
        parts.append(f"latent error {metrics['latent']['latent_error_mean']:.3f}")
    if "quality" in metrics:
        q = metrics["quality"]
        parts.append(f"FID {q['fid']:.2f}, precision {q['precision']:.2f}, recall {q['recall']:.2f}")
    if "probe" in metrics:
        parts.append(f"probe (logistic) latents {100 * metrics['probe']['latent']['logistic']:.1f}% vs pixels "
                     f"{100 * metrics['probe']['pixels']['logistic']:.1f}%")
    if "anomaly" in metrics:
        best = max((v["auroc"], k) for k, v in metrics["anomaly"].items() if isinstance(v, dict) and "auroc" in v)
        parts.append(f"anomaly AUROC {best[0]:.3f} ({best[1]})")
    if "modes" in metrics:
        m = metrics["modes"]
        parts.append(f"modes {m['modes_covered']}/{m['modes_total']}, high quality "
                     f"{100 * m['high_quality_fraction']:.1f}%, own-mode reconstructions "
                     f"{100 * m['reconstructed_into_own_mode']:.1f}%")
    if "pacgan" in metrics:
        m = metrics["pacgan"]
        kl = "undefined" if m["reverse_kl"] is None else f"{m['reverse_kl']:.3f}"
        parts.append(f"PacGAN protocol: {m['modes']}/{m['modes_total']} modes, high quality "
                     f"{100 * m['high_quality']:.1f}%, reverse KL {kl}")
    if "veegan" in metrics:
        m = metrics["veegan"]
        parts.append(f"VEEGAN protocol: {m['modes']}/{m['modes_total']} modes, high quality {100 * m['high_quality']:.1f}%")
    if "bigan" in metrics:
        b = metrics["bigan"]
        parts.append(f"BiGAN protocol: 1-NN {100 * b['nnc_e']:.2f}% on E(x), {100 * b['nnc_e_penultimate']:.2f}% on "
                     f"E's penultimate layer, reconstruction {b['egr']:.2f} vs {b['egr_b']:.2f} for unrelated pairs")
    if "alice" in metrics:
        a = metrics["alice"]
        mse = "n/a" if a["mse"] is None else f"{a['mse']:.4g}"
        parts.append(f"ALICE protocol: reconstruction MSE {mse}, ICP {a['icp']:.3f} (real data {a['icp_real']:.3f})")
    return f"{head} {', '.join(parts)}"
