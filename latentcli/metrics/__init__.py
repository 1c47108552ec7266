"""Metrics, one module each, named by `latentcli evaluate metrics=[...]`."""

# name -> (module in latentcli/metrics with evaluate(ctx) -> dict, what it measures, for --help)
METRICS = {
    "recon": ("reconstruction", "MSE, PSNR, SSIM of G(z) against the test images, and the BiGAN distance ratio"),
    "latent": ("latent", "recovery of the known z of generated images: relative error, cosine, re-generation PSNR"),
    "quality": ("quality", "FID, KID, precision/recall/density/coverage on a small classifier's (or Inception's) features"),
    "probe": ("probe", "1-NN and logistic-regression label accuracy from latents, beside raw pixels; PCA picture"),
    "anomaly": ("anomaly", "one-class anomaly detection (train with dataset.classes=[c]): AUROC, AUPRC, ROC"),
    "modes": ("modes", "mode coverage and high-quality fraction of samples on the 2-D mixtures ring8, grid25"),
    "compression": ("compression", "latents quantised to a few bits per dimension against JPEG: rate-distortion"),
    "pacgan": ("pacgan", "PacGAN's protocol (Lin et al. 2018): modes, high-quality fraction, reverse KL, 2,500 samples"),
    "veegan": ("veegan", "VEEGAN's protocol (Srivastava et al. 2017): modes and high-quality fraction of samples"),
    "bigan": ("bigan", "BiGAN's protocol (Donahue et al. 2017): 1-NN accuracy on E(x) and E's penultimate layer, recon ratio"),
    "alice": ("alice", "ALICE's toy protocol (Li et al. 2017): reconstruction MSE and the toy classifier score"),
}
