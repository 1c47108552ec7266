"""metrics=[compression]: a latent as a compressed image. Latents quantised to b bits per dimension
(uniform levels over [-3, 3] for a normal prior, [-1, 1] for a uniform one) give b * latent_dim bits per
image; PSNR of G(quantised z) against the image, beside JPEG (Pillow) at several qualities on the same
images: a rate-distortion curve."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from latentcli.errors import UserError
from latentcli.metrics.reconstruction import reconstruction_metrics


def quantise(z: torch.Tensor, bits: int, low: float, high: float) -> torch.Tensor:
    """Each value rounded to the nearest of 2^bits evenly spaced levels from low to high."""
    steps = 2**bits - 1
    index = ((z.clamp(low, high) - low) / (high - low) * steps).round()
    return low + index * (high - low) / steps


def jpeg_round_trip(images: torch.Tensor, quality: int) -> tuple[torch.Tensor, float]:
    """(the images after JPEG at `quality`, mean bits per image). Images in [-1, 1], 1 or 3 channels."""
    decoded, sizes = [], []
    for image in images:
        array = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=quality)
        sizes.append(buffer.tell() * 8)
        back = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32)
        back = back[:, :, None] if back.ndim == 2 else back
        decoded.append(torch.from_numpy(back).permute(2, 0, 1) / 127.5 - 1)
    return torch.stack(decoded), float(np.mean(sizes))


def evaluate(ctx) -> dict:
    if ctx.model.info.kind != "image":
        raise UserError("metrics=[compression] compares with JPEG, so it needs images")
    settings = ctx.cfg.compression
    x, z = ctx.test.x, ctx.test_inversion.z.cpu()
    low, high = (-1.0, 1.0) if ctx.model.prior == "uniform" else (-3.0, 3.0)
    d = ctx.model.latent_dim
    latent = [{"bits_per_dim": 32, "bits": 32 * d,
               "psnr": reconstruction_metrics(x, ctx.test_inversion.x_hat, "image")["psnr"]}]
    for b in sorted(settings.bits, reverse=True):
        x_hat = ctx.generate(quantise(z, int(b), low, high))
        latent.append({"bits_per_dim": int(b), "bits": int(b) * d,
                       "psnr": reconstruction_metrics(x, x_hat, "image")["psnr"]})
    jpeg = []
    for quality in settings.jpeg_qualities:
        decoded, bits = jpeg_round_trip(x, int(quality))
        psnr = reconstruction_metrics(x, decoded, "image")["psnr"]
        jpeg.append({"quality": int(quality), "bits": bits, "psnr": psnr})
    from latentcli import viz

    viz.save_line_plot(ctx.figure("Rate-distortion: quantised latents against JPEG", "rate_distortion.png"),
                       {f"{ctx.model.cfg.name} latent ({ctx.test_inversion.method})":
                        ([r["bits"] for r in latent], [r["psnr"] for r in latent]),
                        "JPEG": ([r["bits"] for r in jpeg], [r["psnr"] for r in jpeg])},
                       xlabel="bits per image", ylabel="PSNR (dB)", log_x=True,
                       title=f"{len(x)} test images of {ctx.model.info.name}")
    # latent_psnr: the same PSNRs keyed by bits per dimension, so that sweep summaries can tabulate them
    return {"latent": latent, "jpeg": jpeg,
            "latent_psnr": {f"{r['bits_per_dim']}_bits": r["psnr"] for r in latent}}
