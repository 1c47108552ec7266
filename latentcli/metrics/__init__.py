"""Metrics, one module each: reconstruction (MSE, PSNR) and mode coverage (PacGAN protocol)."""
