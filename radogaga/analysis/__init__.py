"""Measurements: what the experiments compute from trained models and data (Jacobians and
isometry, alignment with PCA, latent-variable statistics, SSIM as a quadratic form,
rate-distortion closed forms, anomaly scores and baselines)."""
