"""Metrics, one module each, named by `latentcli evaluate metrics=[...]`."""

# name -> (module in latentcli/metrics with evaluate(ctx) -> dict, what it measures, for --help)
METRICS = {
    "recon": ("reconstruction", "MSE, PSNR, SSIM of G(z) against the test images, and the BiGAN distance ratio"),
    "latent": ("latent", "recovery of the known z of generated images: relative error, cosine, re-generation PSNR"),
    "quality": ("quality", "FID, KID, precision/recall, inception score on a small classifier's features (offline)"),
    "probe": ("probe", "1-NN and logistic-regression label accuracy from latents, beside raw pixels; PCA picture"),
    "anomaly": ("anomaly", "one-class anomaly detection (train with dataset.classes=[c]): AUROC, AUPRC, ROC"),
    "modes": ("modes", "mode coverage and high-quality fraction of samples on the 2-D mixtures ring8, grid25"),
    "compression": ("compression", "latents quantised to a few bits per dimension against JPEG: rate-distortion"),
    "pacgan": ("pacgan", "PacGAN's mode-collapse protocol on 2-D mixtures: modes, high quality, reverse KL"),
    "veegan": ("veegan", "VEEGAN's mode-collapse protocol on 2-D mixtures: modes, high-quality fraction"),
    "alice": ("alice", "ALICE's toy protocol: reconstruction MSE of G(E(x)) and the toy inception score"),
}
