"""latentcli invert: recover z for test images, a folder of images or generated samples; write latents,
pictures (reconstructions, optional edits) and a summary."""

from __future__ import annotations

import torch

from latentcli import editing, viz
from latentcli.data import build_dataset
from latentcli.engine.checkpoint import save_atomic
from latentcli.errors import UserError
from latentcli.files import write_json
from latentcli.inference import build_inverter
from latentcli.inference.base import Inversion
from latentcli.metrics.reconstruction import latent_recovery, reconstruction_metrics
from latentcli.report import counted
from latentcli.tasks.common import (load_model, load_regressor, run_dir, save_hydra_record, seed_everything,
                                    stored_dataset, warn_of_other_data)
from latentcli.tasks.inputs import Inputs, load_inputs


def run(cfg) -> None:
    out = run_dir()
    save_hydra_record(cfg, out)
    seed_everything(cfg.seed)
    model, ckpt = load_model(cfg)
    data = build_dataset(stored_dataset(ckpt, cfg)) if cfg.inputs.source == "test" else None
    if data is not None:
        warn_of_other_data(ckpt["data"], data.info)
    inputs = load_inputs(cfg.inputs, model, data, cfg.n)
    inverter = build_inverter(cfg.inference, model, seed=cfg.seed, regressor=load_regressor(cfg.inference))
    check_edit(cfg.edit, model)  # before the inversion, which can take minutes
    kind = model.info.kind
    inputs, result, measured = invert_parts(inverter, model, inputs, kind)

    save_atomic({"z": result.z.cpu(), "loss": result.loss.cpu(), "ids": inputs.ids, "labels": inputs.labels,
                 "method": result.method, "steps": result.steps, "seconds": result.seconds, "ckpt": str(cfg.ckpt),
                 "history": None if result.history is None else result.history.cpu(),
                 "history_every": result.history_every, "z_true": inputs.z_true}, out / "latents.pt")
    if kind == "image":
        viz.save_reconstruction_grid(inputs.x, result.x_hat, out / "reconstructions.png")
    else:
        viz.save_points_plot(out / "reconstructions.png", inputs.x, reconstructions=result.x_hat,
                             title=f"{result.method} reconstructions")
    summary = {
        "ckpt": str(cfg.ckpt),
        "inputs": cfg.inputs.source,
        "method": result.method,
        "n": len(inputs.ids),
        "loss_mean": float(result.loss.mean()),
        "loss_median": float(result.loss.median()),
        **{k: v for k, v in measured.items() if k != "mse"},
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "images_per_second": round(len(inputs.ids) / max(result.seconds, 1e-9), 1),
    }
    if inputs.z_true is not None:
        summary.update(latent_recovery(inputs.z_true, result.z))
        if "psnr" in summary:
            summary["regeneration_psnr"] = summary["psnr"]  # the inputs are G(z): re-generating them is the task
    written = [out / "latents.pt", out / "reconstructions.png"]
    written += save_edits(cfg.edit, model, result.z, inputs, out)
    write_json(out / "summary.json", summary)
    written.append(out / "summary.json")

    psnr = f", PSNR {summary['psnr']:.2f} dB" if "psnr" in summary else ""
    recovery = f", latent error {summary['latent_error_mean']:.3f}" if inputs.z_true is not None else ""
    what = {"test": "test item", "folder": "image", "samples": "sample"}[cfg.inputs.source]
    print(f"inverted {counted(len(inputs.ids), what)} with {result.method} in {result.seconds:.2f} s: "
          f"MSE {summary['loss_mean']:.4g}{psnr}{recovery}")
    print("wrote " + ", ".join(str(p) for p in written))


def invert_parts(inverter, model, inputs, kind: str) -> tuple[Inputs, Inversion, dict]:
    """Inverts the inputs part by part (a folder's pictures a batch at a time, everything else at once) and
    lets each part's pictures go once it is done. Returns the inputs and their inversion, every item's
    ids, labels, latents and errors but the pictures (x, x_hat) of the first part only, which the
    reconstruction grid shows; and the reconstruction metrics over all items (each part's weighted by its
    number of items: they are means over items)."""
    first, z, loss, ids, labels, histories, measured = None, [], [], [], [], [], []
    steps, seconds = 0, 0.0
    for part in inputs.parts():
        result = inverter.invert(model, part.x)
        first = first or (part, result)
        z.append(result.z)
        loss.append(result.loss)
        ids += part.ids
        labels.append(part.labels)
        if result.history is not None:
            histories.append(result.history)
        measured.append(reconstruction_metrics(part.x, result.x_hat, kind))
        steps, seconds = max(steps, result.steps), seconds + result.seconds
    part, result = first
    if len(measured) > 1:
        sizes = [len(part_z) for part_z in z]
        measured = [{key: sum(m[key] * size for m, size in zip(measured, sizes)) / len(ids) for key in measured[0]}]
    history = None
    if histories:  # a part that stopped early repeats its last record, as optimize does for its chunks
        length = max(len(h) for h in histories)
        history = torch.cat([torch.cat([h, h[-1:].expand(length - len(h), -1)]) for h in histories], dim=1)
    everything = Inputs(part.x, torch.cat(labels), ids, part.z_true)
    joined = Inversion(torch.cat(z), result.x_hat, torch.cat(loss), result.method, steps, seconds, history,
                       result.history_every)
    return everything, joined, measured[0]


def check_edit(edit_cfg, model) -> None:
    """The mistakes in edit= that show before any latent is found."""
    if edit_cfg.kind not in ("none", "interpolate", "arithmetic"):
        raise UserError(f"edit.kind={edit_cfg.kind!r} is not one of none, interpolate, arithmetic")
    if edit_cfg.kind != "none" and model.info.kind != "image":
        raise UserError(f"edit={edit_cfg.kind} draws pictures of images; this model generates points")
    if edit_cfg.kind == "arithmetic" and (edit_cfg.a is None or edit_cfg.b is None):
        raise UserError("edit=arithmetic needs two classes: add edit.a=LABEL edit.b=LABEL")


def save_edits(edit_cfg, model, z: torch.Tensor, inputs, out) -> list:
    """The pictures edit= asks for (checked by check_edit); returns their paths."""
    if edit_cfg.kind == "none":
        return []
    with torch.no_grad():
        if edit_cfg.kind == "interpolate":
            paths = []
            for mode in ("linear", "slerp"):
                walk = editing.interpolation_latents(z, edit_cfg.pairs, edit_cfg.steps, mode)
                paths.append(out / f"interpolate_{mode}.png")
                viz.save_image_grid(model.generate(walk), paths[-1], nrow=edit_cfg.steps,
                                    title=f"{mode}: each row walks between two inverted inputs")
            return paths
        # arithmetic
        chosen, edited = editing.arithmetic_latents(z, inputs.labels, edit_cfg.a, edit_cfg.b, edit_cfg.n)
        rows = [inputs.x[chosen.cpu()].to(z.device), model.generate(z[chosen]), model.generate(edited)]
        path = out / "arithmetic.png"
        viz.save_image_grid(torch.cat(rows), path, nrow=len(chosen),
                            row_labels=[f"input, class {edit_cfg.b}", "reconstructed",
                                        f"+ mean z[{edit_cfg.a}] - mean z[{edit_cfg.b}]"])
        return [path]
