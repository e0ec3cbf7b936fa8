"""The kernels derivative programs of convolutions and pooling run as (issue 13): a weight's
gradient as `torch.nn.grad.conv*d_weight`, checked against torch's autograd in float64 over
strides, dilations, paddings and layouts."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import tensorc as tc

WEIGHT_GRADIENTS = {
    "same 3x3": (
        "O[n, o, h, w] = X[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]",
        (2, 3, 9, 8),
        (4, 3, 3, 3),
    ),
    "stride 2": (
        "O[n, o, h, w] = X[n, c, 2*h + kh, 2*w + kw] * K[o, c, kh, kw]",
        (2, 3, 9, 8),
        (4, 3, 3, 2),
    ),
    "dilated, padded 1-D": (
        "O[n, o, t] = X[n, c, pad(2*t + 3*k - 2, 2)] * K[o, c, k]",
        (2, 3, 17),
        (5, 3, 3),
    ),
    "3-D": (
        "O[n, o, a, b, d] = X[n, c, a + i, b + j, d + k] * K[o, c, i, j, k]",
        (2, 2, 5, 6, 5),
        (3, 2, 2, 3, 2),
    ),
    "channels last": (
        "O[n, h, w, o] = X[n, h + kh, w + kw, c] * K[kh, kw, c, o]",
        (2, 7, 6, 3),
        (3, 2, 3, 4),
    ),
}


def torch_gradients(source: str, x: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The gradients of sum(O) with respect to X and K, by torch's autograd through tensorc's
    own forward program (whose kernels match the framework's, issue 9)."""
    x, k = x.clone().requires_grad_(), k.clone().requires_grad_()
    forward = tc.compile(source, backend="torch")
    return torch.autograd.grad(forward(X=x, K=k).sum(), (x, k))


@pytest.mark.parametrize("name", WEIGHT_GRADIENTS)
def test_a_weight_gradient_runs_as_conv_weight(name: str) -> None:
    source, x_shape, k_shape = WEIGHT_GRADIENTS[name]
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal(x_shape))
    k = torch.from_numpy(rng.standard_normal(k_shape))
    target = source.split(" = ")[0]  # O[n, o, h, w]
    loss = f"\nL = sum[{target[2:-1]}]({target})"
    gradient = tc.grad(source + loss, wrt=("K",), backend="torch")
    text = gradient.source_for(X=x, K=k)
    assert "_weight(" in text.split("def program")[1]
    (got,) = gradient(X=x, K=k)
    torch.testing.assert_close(got, torch_gradients(source, x, k)[1])


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_kernel_takes_the_integer_seed_beside_float_inputs(backend: str) -> None:
    """The gradient of sum(O) convolves the seed `dO = 1` (made as integers) with X: the
    kernels of torch and JAX refused the mix of dtypes before they were given one."""
    source, x_shape, k_shape = WEIGHT_GRADIENTS["same 3x3"]
    rng = np.random.default_rng(1)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    gradient = tc.grad(source + "\nL = sum[n, o, h, w](O[n, o, h, w])", wrt=("X", "K"))
    want = [g.numpy() for g in torch_gradients(source, torch.from_numpy(x), torch.from_numpy(k))]
    arrays = {"numpy": np.asarray, "torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    got = gradient(X=arrays(x), K=arrays(k))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-5, atol=1e-5)
