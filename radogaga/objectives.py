"""Distortions, the function h, and the one cost shared by DAGMM, RaDOGAGA and β-VAE.

Every cost in the book is one formula with per-method coefficients (`Coefficients`):

    L_m = rate_m · mean_b R + reconstruction_m · h_m(mean_b D(x, x̂)) + noise_m · mean_b D(x̂, x̆)
          + covariance_m · P(Σ̂)

Rates are in nats (−log P(z), or the KL of a β-VAE). The paper's image code reports the
rate in bits per pixel: convert with `nats_to_bits` and divide by the number of pixels.
Model stacks carry a leading model dimension M; `stacked_cost` evaluates all M costs at
once, each with its own coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Literal, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import Tensor, nn

from radogaga.infra.checks import NonFiniteError

SSIM_K = (0.01, 0.03)  # (K1, K2) of Wang et al. (2004): C1 = (K1 R)², C2 = (K2 R)².
H_KINDS = ("identity", "log")


# ---------------------------------------------------------------- distortions


def squared_error(a: Tensor, b: Tensor, event_dims: int = 1,
                  reduction: Literal["sum", "mean"] = "sum") -> Tensor:
    """Squared error per sample, reduced over the trailing `event_dims` dims.

    "sum" is ‖a − b‖², the reconstruction error of DAGMM (Zong et al. 2018, Eq. 7);
    "mean" is the per-element mean, as in the authors' image code (`mean((x − x̂)²)`).
    """
    if event_dims < 1:
        raise ValueError(f"event_dims={event_dims} must be >= 1.")
    dims = tuple(range(-event_dims, 0))
    error = (a - b).square()
    if reduction == "sum":
        return error.sum(dims)
    if reduction == "mean":
        return error.mean(dims)
    raise ValueError(f"Unknown reduction {reduction!r}; choose 'sum' or 'mean'.")


def _check_images(x: Tensor, win_size: int) -> None:
    if x.dim() < 3:
        raise ValueError(f"Expected images (..., C, H, W), got shape {tuple(x.shape)}.")
    if min(x.shape[-2:]) < win_size:
        raise ValueError(f"Images of {tuple(x.shape[-2:])} are smaller than the {win_size}x{win_size} SSIM window.")


def one_minus_ssim(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    """1 − SSIM per image through pytorch_msssim (11×11 Gaussian window, σ = 1.5, no padding,
    K = (0.01, 0.03), mean over window positions and channels).

    Images are (..., C, H, W); the result has the leading shape (e.g. (N,) or (M, B)).
    """
    _check_images(a, 11)
    images = (-1, *a.shape[-3:])  # pytorch_msssim would read 5-D input as volumes
    value = ssim(a.reshape(images), b.reshape(images), data_range=data_range, size_average=False,
                 win_size=11, win_sigma=1.5, K=SSIM_K)
    return (1 - value).reshape(a.shape[:-3])


def gaussian_window(win_size: int = 11, win_sigma: float = 1.5, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> Tensor:
    """The 1-D Gaussian window (sum 1) whose outer product with itself is the 2-D SSIM window."""
    coords = torch.arange(win_size, dtype=dtype, device=device) - win_size // 2
    g = torch.exp(-coords.square() / (2 * win_sigma ** 2))
    return g / g.sum()


def _blur(x: Tensor, window: Tensor) -> Tensor:
    """Window-weighted local means of (N, 1, H, W) at every valid position (no padding)."""
    k = window.numel()
    x = F.conv2d(x, window.view(1, 1, 1, k))
    return F.conv2d(x, window.view(1, 1, k, 1))


def _ssim_weights(x: Tensor, window: Tensor, data_range: float) -> tuple[Tensor, Tensor]:
    """Per window position: 1 / (2 μ_x² + C1) and 1 / (2 σ_x² + C2)."""
    c1, c2 = ((k * data_range) ** 2 for k in SSIM_K)
    mu = _blur(x, window)
    var = _blur(x.square(), window) - mu.square()
    return 1 / (2 * mu.square() + c1), 1 / (2 * var + c2)


def ssim_quadratic_form(x_hat: Tensor, delta: Tensor, data_range: float = 1.0,
                        win_size: int = 11, win_sigma: float = 1.5) -> Tensor:
    """δᵀ A(x̂) δ per image: the second-order form of 1 − SSIM(x̂, x̂ + δ) (paper, Appendix C).

    Per window position, with window weights w (Σw = 1) and W = diag(w),
    A_win = w wᵀ / (2 μ_x² + C1) + (W − w wᵀ) / (2 σ_x² + C2); A is the mean of A_win over
    valid positions (no padding, as pytorch_msssim) and channels. Computed by convolutions:
    wᵀδ = blur(δ) and δᵀ(W − w wᵀ)δ = blur(δ²) − blur(δ)², never forming A. This is the
    authors' training form (`_my_ssim_helper`, mode 'train', in their `ssim_matrix.py`).
    Gradients flow through both x̂ (via A) and δ. Images are (..., C, H, W); returns the
    leading shape.
    """
    _check_images(x_hat, win_size)
    lead, (channels, height, width) = x_hat.shape[:-3], x_hat.shape[-3:]
    window = gaussian_window(win_size, win_sigma, x_hat.dtype, x_hat.device)
    x = x_hat.reshape(-1, 1, height, width)
    d = delta.reshape(-1, 1, height, width)
    a_mu, a_var = _ssim_weights(x, window, data_range)
    mu_d = _blur(d, window)
    var_d = _blur(d.square(), window) - mu_d.square()
    local = mu_d.square() * a_mu + var_d * a_var
    return local.mean((1, 2, 3)).reshape(*lead, channels).mean(-1)


def ssim_quadratic_matrix(x_hat: Tensor, data_range: float = 1.0, win_size: int = 11,
                          win_sigma: float = 1.5) -> Tensor:
    """A(x̂) as an explicit (n, n) matrix, n = H·W, for one single-channel image (..., H, W)
    with all leading dims 1; pixels are flattened row-major. For tests and figures only.

    Equals half the autograd Hessian of 1 − SSIM(x̂, x̂ + δ) at δ = 0 exactly (the luminance
    and contrast terms are 1 − μ_δ²/(μ_x² + μ_y² + C1) and 1 − σ_δ²/(σ_x² + σ_y² + C2),
    whose product differs from 1 − the quadratic form only at third order in δ). Against
    pytorch_msssim in float64 the relative Frobenius residual is ~3e-5 on a face crop, all
    from its window: built in float32, it sums to 1 − O(1e-7), and σ_x² = E[x²] − μ_x²
    turns that into an error of about (Σw − 1) μ_x² against 2σ_x² + C2 ~ 1e-3. With the
    same window in float64 the residual is ~1e-13.
    """
    height, width = x_hat.shape[-2:]
    n = height * width
    if x_hat.numel() != n:
        raise ValueError(f"Expected one single-channel image, got shape {tuple(x_hat.shape)}.")
    _check_images(x_hat.reshape(1, height, width), win_size)
    window = gaussian_window(win_size, win_sigma, x_hat.dtype, x_hat.device)
    a_mu, a_var = (t.flatten() for t in _ssim_weights(x_hat.reshape(1, 1, height, width), window, data_range))
    # Row p of `weights` is the 2-D window at valid position p, embedded in the image.
    eye = torch.eye(n, dtype=x_hat.dtype, device=x_hat.device)
    weights = _blur(eye.reshape(n, 1, height, width), window).reshape(n, -1).T
    positions = weights.shape[0]
    outer = weights.T @ ((a_mu - a_var)[:, None] * weights)
    return (outer + torch.diag(weights.T @ a_var)) / positions


_DISTORTIONS: dict[str, Callable[..., Tensor]] = {
    "squared_error": squared_error,
    "one_minus_ssim": one_minus_ssim,
    "ssim_quadratic": lambda a, b, **kw: ssim_quadratic_form(a, b - a, **kw),
}
DISTORTIONS = tuple(_DISTORTIONS)


def distortion(name: str, a: Tensor, b: Tensor, **kw) -> Tensor:
    """D(a, b) per sample by name; for "ssim_quadratic", b − a is the displacement at a."""
    if name not in _DISTORTIONS:
        raise ValueError(f"Unknown distortion {name!r}; choose one of: {', '.join(DISTORTIONS)}.")
    return _DISTORTIONS[name](a, b, **kw)


def h(d: Tensor, kind: Literal["identity", "log"] = "identity", floor: float = 1e-3) -> Tensor:
    """h(d) = d, or log(d + floor): the authors floor it as log(D + 0.001)."""
    if kind == "identity":
        return d
    if kind == "log":
        return torch.log(d + floor)
    raise ValueError(f"Unknown h {kind!r}; choose one of: {', '.join(H_KINDS)}.")


# ---------------------------------------------------------------- the cost


@dataclass(frozen=True)
class Coefficients:
    """Weights of the four cost terms and the h applied to the reconstruction term."""

    rate: float
    reconstruction: float
    noise: float
    covariance: float = 0.0
    h: str = "identity"
    log_floor: float = 1e-3

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "h" and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Coefficients.{field.name} = {value!r} must be finite and >= 0.")
        if self.h not in H_KINDS:
            raise ValueError(f"Coefficients.h = {self.h!r}; choose one of: {', '.join(H_KINDS)}.")

    @classmethod
    def radogaga(cls, lambda1: float, lambda2: float, h: str = "identity",
                 log_floor: float = 1e-3) -> Coefficients:
        """Paper Eq. 4: −log P(z) + λ1 h(D(x, x̂)) + λ2 D(x̂, x̆)."""
        return cls(rate=1.0, reconstruction=lambda1, noise=lambda2, h=h, log_floor=log_floor)

    @classmethod
    def dagmm(cls, lambda1: float = 0.1, lambda2: float = 0.005) -> Coefficients:
        """DAGMM (Zong et al. 2018, Eq. 7): ‖x − x̂‖² + λ1 E(z) + λ2 Σ_k Σ_j 1/Σ̂_k,jj."""
        return cls(rate=lambda1, reconstruction=1.0, noise=0.0, covariance=lambda2)

    @classmethod
    def beta_vae(cls, lam: float) -> Coefficients:
        """The authors' β-VAE: λ D(x, g(μ)) + λ D(g(μ), g(z)) + KL."""
        return cls(rate=1.0, reconstruction=lam, noise=lam)


@dataclass
class CostTerms:
    """Per-sample terms of M stacked models: rate, reconstruction, noise (M, B); covariance (M,).

    rate: nats (−log P(z), or the KL for β-VAE); reconstruction: D(x, x̂); noise: D(x̂, x̆);
    covariance: the DAGMM penalty. Unused terms must be zeros (0 · NaN is NaN).
    """

    rate: Tensor
    reconstruction: Tensor
    noise: Tensor
    covariance: Tensor


class CoefficientTensors(NamedTuple):
    """(M,) tensors of a stack's coefficients; log_mask is True where h = log."""

    rate: Tensor
    reconstruction: Tensor
    noise: Tensor
    covariance: Tensor
    log_floor: Tensor
    log_mask: Tensor


def coefficient_tensors(coefficients: Sequence[Coefficients], device: torch.device | str | None = None,
                        dtype: torch.dtype = torch.float32) -> CoefficientTensors:
    """Stack per-model coefficients once, for `stacked_cost`."""
    def column(name: str) -> Tensor:
        return torch.tensor([getattr(c, name) for c in coefficients], dtype=dtype, device=device)

    mask = torch.tensor([c.h == "log" for c in coefficients], dtype=torch.bool, device=device)
    return CoefficientTensors(column("rate"), column("reconstruction"), column("noise"),
                              column("covariance"), column("log_floor"), mask)


class CoefficientBuffers(nn.Module):
    """A stack's coefficients held as (non-persistent) buffers, so they move with the model."""

    def __init__(self, coefficients: Sequence[Coefficients]) -> None:
        super().__init__()
        for name, value in coefficient_tensors(coefficients)._asdict().items():
            self.register_buffer(name, value, persistent=False)

    def tensors(self) -> CoefficientTensors:
        """The buffers as the CoefficientTensors `stacked_cost` takes."""
        return CoefficientTensors(*(getattr(self, name) for name in CoefficientTensors._fields))


def stacked_cost(terms: CostTerms, coefficients: Sequence[Coefficients] | CoefficientTensors) -> Tensor:
    """The (M,) costs of a model stack, each with its own coefficients.

    h acts on the batch mean of the reconstruction distortion, as the authors' code
    (d1 = log(mean((x − x̂)²) + 0.001)); the other terms are batch means.
    """
    c = coefficients if isinstance(coefficients, CoefficientTensors) else coefficient_tensors(
        coefficients, terms.rate.device, terms.rate.dtype)
    if terms.rate.shape[:-1] != c.rate.shape:
        raise ValueError(f"Coefficients of shape {tuple(c.rate.shape)} do not fit terms of shape "
                         f"{tuple(terms.rate.shape)} (models, batch).")
    reconstruction = terms.reconstruction.mean(-1)
    # The inner where keeps the unused log branch finite, so its gradient is 0, not NaN.
    logged = torch.log(torch.where(c.log_mask, reconstruction + c.log_floor, 1.0))
    reconstruction = torch.where(c.log_mask, logged, reconstruction)
    return (c.rate * terms.rate.mean(-1) + c.reconstruction * reconstruction
            + c.noise * terms.noise.mean(-1) + c.covariance * terms.covariance)


def check_finite_losses(loss: Tensor, step: int, labels: Sequence[str]) -> None:
    """Raise NonFiniteError naming the first model whose (M,) loss is not finite (syncs)."""
    if len(labels) != loss.numel():
        raise ValueError(f"{len(labels)} labels for {loss.numel()} model losses.")
    bad = (~torch.isfinite(loss.detach())).nonzero().flatten().tolist()
    if bad:
        m = bad[0]
        others = f" (also non-finite: models {bad[1:]})" if len(bad) > 1 else ""
        raise NonFiniteError(f"Loss of model {m} ({labels[m]}) is {loss[m].item()} at step {step}{others}.",
                                 m, labels[m], step)


def check_finite_parameters(objective: nn.Module, step: int) -> None:
    """Raise NonFiniteError naming the first model of a stack (`objective.labels`) whose
    parameters hold NaN or infinity after `step`; a parameter without the leading model
    dimension is blamed on every model (syncs)."""
    labels = list(objective.labels)
    bad = torch.zeros(len(labels), dtype=torch.bool)
    for name, parameter in objective.named_parameters():
        finite = torch.isfinite(parameter.detach())
        if parameter.dim() and parameter.shape[0] == len(labels):
            bad |= ~finite.reshape(len(labels), -1).all(dim=1).cpu()
        elif not bool(finite.all()):
            bad[:] = True
    if bool(bad.any()):
        models = bad.nonzero().flatten().tolist()
        m = models[0]
        others = f" (also non-finite: models {models[1:]})" if len(models) > 1 else ""
        raise NonFiniteError(f"Parameters of model {m} ({labels[m]}) hold NaN or infinity after step {step}"
                                 f"{others}; the training diverged. Lower the learning rate or change the "
                                 "model's coefficients.", m, labels[m], step)


def nats_to_bits(x: Tensor | float) -> Tensor | float:
    """A rate in nats as bits (divide by ln 2); divide by the pixel count for bits per pixel."""
    return x / math.log(2)
