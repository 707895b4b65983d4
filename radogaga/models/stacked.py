"""M models of one architecture as batched weights with a leading model axis.

Every weight has shape (M, ...) and every activation (M, B, ...), so one `torch.baddbmm`
runs a layer of all M models (seeds x methods) in a single kernel launch. Model m's initial
weights are drawn from its own CPU generator, so they depend only on its seed, not on M or
on its position in the stack.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from radogaga.infra import checks
from radogaga.infra.checks import check_shape


def _identity(x: Tensor) -> Tensor:
    return x


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "softplus": F.softplus,
    "sigmoid": torch.sigmoid,
    "identity": _identity,
}


def activation_by_name(name: str) -> Callable[[Tensor], Tensor]:
    """The elementwise activation called `name` (one of ACTIVATIONS)."""
    return ACTIVATIONS[checks.choice("activation", name, ACTIVATIONS)]


def model_generators(seeds: Sequence[int], device: torch.device | str = "cpu") -> list[torch.Generator]:
    """One generator per model on `device`, seeded with that model's seed (integers >= 0)."""
    generators = []
    for index, seed in enumerate(seeds):
        generator = torch.Generator(device=device)
        generator.manual_seed(checks.non_negative_int(f"seeds[{index}]", seed))
        generators.append(generator)
    return generators


def uniform_per_model_(
    tensor: Tensor, low: float, high: float, generators: Sequence[torch.Generator] | None = None
) -> Tensor:
    """Fill `tensor` (leading model axis) from U(low, high) in place; slice m from `generators[m]`.

    The generators must live on the CPU (the tensor is filled there before any move to a
    device). With `generators=None` the whole tensor is drawn from torch's global generator.
    """
    with torch.no_grad():
        if generators is None:
            return tensor.uniform_(low, high)
        if len(generators) != tensor.shape[0]:
            raise ValueError(f"expected one generator per model ({tensor.shape[0]}); got {len(generators)}")
        for index, generator in enumerate(generators):
            if generator.device.type != "cpu":
                raise ValueError(f"generators[{index}] is on {generator.device}; initial weights need CPU "
                                 "generators (model_generators(seeds, 'cpu'))")
            tensor[index].uniform_(low, high, generator=generator)
    return tensor


class StackedLinear(nn.Module):
    """M affine maps `x @ W_m + b_m`: weight (M, in, out), bias (M, 1, out), input (M, B, in).

    Initialised like torch.nn.Linear (weight and bias from U(-1/sqrt(in), 1/sqrt(in))).
    """

    def __init__(self, n_models: int, in_features: int, out_features: int,
                 generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        self.n_models = checks.positive_int("n_models", n_models)
        self.in_features = checks.positive_int("in_features", in_features)
        self.out_features = checks.positive_int("out_features", out_features)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(uniform_per_model_(
            torch.empty(n_models, in_features, out_features), -bound, bound, generators))
        self.bias = nn.Parameter(uniform_per_model_(torch.empty(n_models, 1, out_features), -bound, bound, generators))

    def forward(self, x: Tensor) -> Tensor:
        """(M, B, in) -> (M, B, out)."""
        check_shape("x", x, ("M", self.n_models), ("B", None), ("in", self.in_features))
        return torch.baddbmm(self.bias, x, self.weight)


class StackedMLP(nn.Module):
    """M fully connected networks with layer widths `widths` and `activation` between layers.

    No activation after the last layer. Input (M, B, widths[0]) -> output (M, B, widths[-1]).
    """

    def __init__(self, n_models: int, widths: Sequence[int], activation: str = "tanh",
                 generators: Sequence[torch.Generator] | None = None) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths must list at least an input and an output width; got {list(widths)}")
        widths = [checks.positive_int(f"widths[{index}]", width) for index, width in enumerate(widths)]
        self.activation = activation
        self._act = activation_by_name(activation)
        self.layers = nn.ModuleList(
            StackedLinear(n_models, width_in, width_out, generators)
            for width_in, width_out in zip(widths[:-1], widths[1:])
        )
        self.n_models = self.layers[0].n_models

    def forward(self, x: Tensor) -> Tensor:
        """(M, B, widths[0]) -> (M, B, widths[-1])."""
        *hidden, last = self.layers
        for layer in hidden:
            x = self._act(layer(x))
        return last(x)
