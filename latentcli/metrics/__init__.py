"""Metrics, one module each with evaluate(ctx) -> dict, named by `latentcli evaluate metrics=[...]`.

The families: reconstruction (recon), latent recovery (latent), sample quality (quality), probes of the
latents (probe), anomaly detection (anomaly), mode coverage (modes) and compression (compression); and the
papers' own protocols (pacgan, veegan, bigan, alice).
"""

from latentcli.registry import Registry

METRICS = Registry("metric", {
    "recon": "latentcli.metrics.reconstruction",
    "latent": "latentcli.metrics.latent",
    "quality": "latentcli.metrics.quality",
    "probe": "latentcli.metrics.probe",
    "anomaly": "latentcli.metrics.anomaly",
    "modes": "latentcli.metrics.modes",
    "compression": "latentcli.metrics.compression",
    "pacgan": "latentcli.metrics.pacgan",
    "veegan": "latentcli.metrics.veegan",
    "bigan": "latentcli.metrics.bigan",
    "alice": "latentcli.metrics.alice",
}, help={
    "recon": "MSE, PSNR, SSIM of G(z) against the test images, and the BiGAN distance ratio",
    "latent": "recovery of the known z of generated images: relative error, cosine, re-generation PSNR",
    "quality": "FID, KID, precision/recall/density/coverage on a small classifier's (or Inception's) features",
    "probe": "1-NN and logistic-regression label accuracy from latents, beside raw pixels; PCA picture",
    "anomaly": "one-class anomaly detection (train with dataset.classes=[c]): AUROC, AUPRC, ROC",
    "modes": "mode coverage and high-quality fraction of samples on the 2-D mixtures ring8, grid25",
    "compression": "latents quantised to a few bits per dimension against JPEG: rate-distortion",
    "pacgan": "PacGAN's protocol (Lin et al. 2018): modes, high-quality fraction, reverse KL, 2,500 samples",
    "veegan": "VEEGAN's protocol (Srivastava et al. 2017): modes and high-quality fraction of samples",
    "bigan": "BiGAN's protocol (Donahue et al. 2017): 1-NN accuracy on E(x) and E's penultimate layer, recon ratio",
    "alice": "ALICE's toy protocol (Li et al. 2017): reconstruction MSE and the toy classifier score",
})
