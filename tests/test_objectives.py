"""The distortions, the SSIM quadratic form against the Hessian of 1 − SSIM, h, and the one
stacked cost of DAGMM, RaDOGAGA and β-VAE."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_msssim import ssim

from radogaga import data
from radogaga.infra.checks import NonFiniteError
from radogaga.objectives import (
    DISTORTIONS, CostTerms, Coefficients, check_finite_losses, coefficient_tensors,
    distortion, gaussian_window, h, nats_to_bits, one_minus_ssim, squared_error, ssim_quadratic_form,
    ssim_quadratic_matrix, stacked_cost,
)

SIDE = 24  # a 24 x 24 crop: a Hessian of 576 x 576, cheap in float64


@pytest.fixture(scope="module")
def face(data_root) -> torch.Tensor:
    """A 24 x 24 crop (eyes and nose) of the first Olivetti face, (1, 1, 24, 24) float64."""
    X = data.load("olivetti").X
    return torch.tensor(X[:1, :, 20:20 + SIDE, 20:20 + SIDE], dtype=torch.float64)


def _hessian(face: torch.Tensor, win: torch.Tensor | None = None) -> torch.Tensor:
    """Autograd Hessian of δ ↦ 1 − SSIM(x, x + δ) at δ = 0 (pytorch_msssim, no padding)."""
    def loss(delta):
        y = face + delta.reshape(face.shape)
        return 1 - ssim(face, y, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5,
                        win=win, K=(0.01, 0.03))[0]
    return torch.autograd.functional.hessian(loss, torch.zeros(face.numel(), dtype=face.dtype),
                                             vectorize=True)


@pytest.fixture(scope="module")
def hessian(face) -> torch.Tensor:
    return _hessian(face)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


# ------------------------------------------------------------- distortions

def test_squared_error_sum_is_mean_times_size_on_model_stacks():
    a, b = torch.randn(3, 5, 7), torch.randn(3, 5, 7)
    total = squared_error(a, b)
    assert total.shape == (3, 5)
    torch.testing.assert_close(total, ((a - b) ** 2).sum(-1))
    torch.testing.assert_close(squared_error(a, b, reduction="mean") * 7, total)  # default rtol 1.3e-6
    images = torch.randn(2, 4, 3, 8, 8)
    assert squared_error(images, 0 * images, event_dims=3).shape == (2, 4)
    with pytest.raises(ValueError, match="sum"):
        squared_error(a, b, reduction="max")


def test_one_minus_ssim_keeps_leading_dims(face):
    noise = torch.randn(2, 3, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    stack = face.expand(2, 3, 1, SIDE, SIDE) + 0.01 * noise
    value = one_minus_ssim(stack, face.expand_as(stack))
    assert value.shape == (2, 3)
    flat = one_minus_ssim(stack.reshape(6, 1, SIDE, SIDE), face.expand(6, 1, SIDE, SIDE))
    torch.testing.assert_close(value.flatten(), flat)
    assert torch.all(one_minus_ssim(face, face).abs() < 1e-12)


def test_quadratic_form_matches_hessian_of_one_minus_ssim(face, hessian):
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        delta = 0.01 * torch.randn(face.numel(), generator=generator, dtype=torch.float64)
        exact = delta @ hessian @ delta / 2
        form = ssim_quadratic_form(face, delta.reshape(face.shape))
        assert form.shape == (1,)
        assert abs(form.item() / exact.item() - 1) < 1e-3, (form, exact)  # measured ~3e-5


def test_quadratic_matrix_is_half_the_hessian(face, hessian):
    A = ssim_quadratic_matrix(face)
    assert A.shape == (SIDE ** 2, SIDE ** 2)
    assert _rel(A, hessian / 2) < 1e-3  # measured ~3e-5: pytorch_msssim's float32 window
    # With the same window in float64 the match is exact to rounding (the docstring's claim).
    exact_window = _hessian(face, win=gaussian_window().reshape(1, 1, 1, -1))
    assert _rel(A, exact_window / 2) < 1e-10
    torch.testing.assert_close(A, A.T, rtol=0, atol=1e-15)
    assert torch.linalg.eigvalsh(A).min() > -1e-12  # positive semi-definite
    delta = 0.01 * torch.randn(face.numel(), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    form = ssim_quadratic_form(face, delta.reshape(face.shape))
    assert abs((delta @ A @ delta).item() / form.item() - 1) < 1e-10


def test_one_minus_ssim_approaches_quadratic_form(face):
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(face.shape, generator=generator, dtype=torch.float64)
    errors = []
    for scale in (1e-2, 1e-3, 1e-4):
        delta = scale * direction
        form = ssim_quadratic_form(face, delta)
        errors.append(((one_minus_ssim(face, face + delta) - form) / form).abs().item())
    # The residual is third order, so the relative error shrinks about linearly with δ.
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 1e-3, errors


def test_quadratic_form_is_mean_over_channels_and_keeps_leading_dims(face):
    channels = torch.cat([face, face.flip(-1), 1 - face], dim=1)  # (1, 3, H, W)
    x = channels.expand(2, 4, 3, SIDE, SIDE)
    delta = 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    form = ssim_quadratic_form(x, delta)
    assert form.shape == (2, 4)
    per_channel = torch.stack([ssim_quadratic_form(x[:, :, c:c + 1], delta[:, :, c:c + 1]) for c in range(3)])
    torch.testing.assert_close(form, per_channel.mean(0))
    torch.testing.assert_close(distortion("ssim_quadratic", x, x + delta), form)


def test_images_smaller_than_the_window_are_refused():
    with pytest.raises(ValueError, match="window"):
        ssim_quadratic_form(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_distortion_dispatcher():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(distortion("squared_error", a, b, reduction="mean"), ((a - b) ** 2).mean(-1))
    with pytest.raises(ValueError) as error:
        distortion("l1", a, b)
    assert all(name in str(error.value) for name in DISTORTIONS)


# ------------------------------------------------------------- h

def test_h():
    d = torch.tensor([0.0, 0.5, 2.0])
    assert h(d) is d
    torch.testing.assert_close(h(d, "log"), torch.log(d + 1e-3))
    torch.testing.assert_close(h(d, "log", floor=0.5), torch.log(d + 0.5))
    with pytest.raises(ValueError, match="identity"):
        h(d, "sqrt")


# ------------------------------------------------------------- the cost

STACK = [Coefficients.dagmm(), Coefficients.radogaga(2.0, 0.3), Coefficients.radogaga(0.5, 0.7, h="log")]


def _terms(requires_grad: bool = False) -> CostTerms:
    generator = torch.Generator().manual_seed(2)

    def make(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, requires_grad=requires_grad)

    return CostTerms(rate=make(3, 16), reconstruction=make(3, 16), noise=make(3, 16), covariance=make(3))


def test_factories():
    assert Coefficients.dagmm() == Coefficients(rate=0.1, reconstruction=1.0, noise=0.0, covariance=0.005)
    assert Coefficients.radogaga(2.0, 0.3, h="log") == Coefficients(1.0, 2.0, 0.3, 0.0, "log")
    assert Coefficients.beta_vae(1e4) == Coefficients(rate=1.0, reconstruction=1e4, noise=1e4)


def test_stacked_cost_equals_per_model_formula():
    terms = _terms()
    cost = stacked_cost(terms, STACK)
    assert cost.shape == (3,)
    by_hand = []
    for m, c in enumerate(STACK):
        rec = terms.reconstruction[m].mean()
        rec = torch.log(rec + c.log_floor) if c.h == "log" else rec
        by_hand.append(c.rate * terms.rate[m].mean() + c.reconstruction * rec
                       + c.noise * terms.noise[m].mean() + c.covariance * terms.covariance[m])
    torch.testing.assert_close(cost, torch.stack(by_hand))  # default float32 tolerances
    torch.testing.assert_close(stacked_cost(terms, coefficient_tensors(STACK)), cost)


def test_stacked_cost_gradients_flow():
    terms = _terms(requires_grad=True)
    terms.reconstruction.data[0] = 0.0  # the identity model at d = 0: no NaN from the unused log
    stacked_cost(terms, STACK).sum().backward()
    for name in ("rate", "reconstruction", "noise", "covariance"):
        grad = getattr(terms, name).grad
        assert grad is not None and torch.isfinite(grad).all(), name
    assert torch.all(terms.noise.grad[0] == 0)  # DAGMM has no noise term
    assert torch.all(terms.reconstruction.grad[2] > 0)


def test_stacked_cost_checks_the_model_count():
    with pytest.raises(ValueError, match=r"\(2,\) do not fit terms of shape \(3, 16\)"):
        stacked_cost(_terms(), STACK[:2])


@pytest.mark.parametrize("field, value", [("rate", -1.0), ("noise", math.nan), ("covariance", math.inf),
                                          ("log_floor", -1e-3)])
def test_coefficients_validation(field, value):
    arguments = dict(rate=1.0, reconstruction=1.0, noise=1.0)
    with pytest.raises(ValueError, match=field):
        Coefficients(**{**arguments, field: value})


def test_coefficients_unknown_h():
    with pytest.raises(ValueError, match="h = 'sqrt'"):
        Coefficients.radogaga(1.0, 1.0, h="sqrt")


def test_check_finite_names_model_label_and_step():
    labels = ["seed 0, DAGMM", "seed 3, RaDOGAGA(log d), lambda1=0.5", "seed 4, RaDOGAGA(d)"]
    check_finite_losses(torch.tensor([1.0, 2.0, 3.0]), step=5, labels=labels)
    with pytest.raises(NonFiniteError, match=r"model 1 \(seed 3, RaDOGAGA\(log d\), lambda1=0.5\).*step 120") \
            as error:
        check_finite_losses(torch.tensor([1.0, math.nan, math.inf]), step=120, labels=labels)
    assert (error.value.model, error.value.step) == (1, 120)
    assert isinstance(error.value, FloatingPointError)


def test_nats_to_bits():
    assert nats_to_bits(math.log(2)) == pytest.approx(1.0, rel=1e-12)
    torch.testing.assert_close(nats_to_bits(torch.tensor([math.log(8)])), torch.tensor([3.0]))
