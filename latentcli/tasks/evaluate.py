"""latentcli evaluate: reconstruction error on the test split and, for 2-D mixtures, mode coverage."""

from __future__ import annotations

import torch

from latentcli import viz
from latentcli.files import write_json
from latentcli.metrics.modes import mode_coverage, own_mode_fraction
from latentcli.metrics.reconstruction import reconstruction_metrics
from latentcli.tasks.common import invert_test_items, run_dir


def run(cfg) -> None:
    out = run_dir()
    model, ckpt, data, inputs, inversion = invert_test_items(cfg)
    metrics = {
        "ckpt": str(cfg.ckpt),
        "model": ckpt["config"]["model"]["name"],
        "dataset": data.info.name,
        "step": ckpt["step"],
        "inference": inversion.method,
        "n_test": len(inputs),
        "recon": reconstruction_metrics(inputs.x, inversion.x_hat, data.info.kind),
    }
    with torch.no_grad():
        samples = model.generate(model.sample_latent(cfg.n_samples, generator=torch.Generator().manual_seed(cfg.seed)))
    if "centres" in data.info.extra:
        centres = torch.tensor(data.info.extra["centres"])
        metrics["modes"] = {
            **mode_coverage(samples.cpu(), centres, data.info.extra["sigma"]),
            "n_samples": cfg.n_samples,
            "reconstructed_into_own_mode": own_mode_fraction(inputs.x, inversion.x_hat.cpu(), centres),
        }
        m = metrics["modes"]
        viz.save_points_plot(out / "modes.png", data.test.x, samples=samples, reconstructions=inversion.x_hat,
                             centres=centres, title=f"{metrics['model']}: {m['modes_covered']}/{m['modes_total']} "
                             f"modes, {100 * m['high_quality_fraction']:.1f}% high quality")
    else:
        viz.save_image_grid(samples[:64], out / "samples.png")
        viz.save_reconstruction_grid(inputs.x, inversion.x_hat, out / "reconstructions.png")
    write_json(out / "metrics.json", metrics)
    print(_one_line(metrics))
    print(f"wrote {out / 'metrics.json'}")


def _one_line(metrics: dict) -> str:
    head = f"{metrics['model']} on {metrics['dataset']} (step {metrics['step']}, {metrics['inference']} inversion):"
    parts = [f"recon MSE {metrics['recon']['mse']:.4g}"]
    if "psnr" in metrics["recon"]:
        parts.append(f"PSNR {metrics['recon']['psnr']:.2f} dB")
    if "modes" in metrics:
        m = metrics["modes"]
        parts.append(f"modes {m['modes_covered']}/{m['modes_total']}, high quality "
                     f"{100 * m['high_quality_fraction']:.1f}%, own-mode reconstructions "
                     f"{100 * m['reconstructed_into_own_mode']:.1f}%")
    return f"{head} {', '.join(parts)}"
