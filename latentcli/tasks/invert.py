"""latentcli invert: recover z for the checkpoint's test images; write latents, a picture, a summary."""

from __future__ import annotations

import torch

from latentcli import viz
from latentcli.engine.checkpoint import save_atomic
from latentcli.files import write_json
from latentcli.metrics.reconstruction import reconstruction_metrics
from latentcli.tasks.common import invert_test_items, run_dir


def run(cfg) -> None:
    out = run_dir()
    _, _, data, inputs, result = invert_test_items(cfg)

    ids = torch.arange(len(inputs))
    save_atomic({"z": result.z.cpu(), "loss": result.loss.cpu(), "ids": ids, "labels": inputs.y,
                 "method": result.method, "steps": result.steps, "seconds": result.seconds,
                 "ckpt": str(cfg.ckpt)}, out / "latents.pt")
    if data.info.kind == "image":
        viz.save_reconstruction_grid(inputs.x, result.x_hat, out / "reconstructions.png")
    else:
        viz.save_points_plot(out / "reconstructions.png", inputs.x, reconstructions=result.x_hat,
                             title=f"{result.method} reconstructions")
    summary = {
        "ckpt": str(cfg.ckpt),
        "method": result.method,
        "n": len(inputs),
        "loss_mean": float(result.loss.mean()),
        "loss_median": float(result.loss.median()),
        **{k: v for k, v in reconstruction_metrics(inputs.x, result.x_hat, data.info.kind).items() if k != "mse"},
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "images_per_second": round(len(inputs) / max(result.seconds, 1e-9), 1),
    }
    write_json(out / "summary.json", summary)
    psnr = f", PSNR {summary['psnr']:.2f} dB" if "psnr" in summary else ""
    print(f"inverted {len(inputs)} test items with {result.method} in {result.seconds:.2f} s: "
          f"MSE {summary['loss_mean']:.4g}{psnr}")
    print(f"wrote {out / 'latents.pt'}, {out / 'reconstructions.png'}, {out / 'summary.json'}")
