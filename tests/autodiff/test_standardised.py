"""The layer norm's derivative in closed form (tensorc.autodiff.standardised): against
PyTorch's own layer-norm kernel, where it is found and where it must not be, and its memory
under XLA against jax.grad's. The corpus (tests/equivalence/corpus.py, `*-closed-form`) checks
its spellings against torch.autograd, jax.vjp and finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.backends import BACKENDS

LAYER_NORM = """\
m[b] = mean[f](X[b, f])
v[b] = mean[f]((X[b, f] - m[b]) ** 2)
Y[b, f] = (X[b, f] - m[b]) / sqrt(v[b] + 1e-05) * g[f] + be[f]
"""


def closed_form(text: str) -> bool:
    """Whether a derivative program gives X the cotangent of xhat at once."""
    return "- xhat[b, f] * (rstd[b] * mean[f](" in text


def torch_layer_norm_vjp(arrays: list[np.ndarray], dy: np.ndarray) -> list[np.ndarray]:
    x, g, be = (torch.tensor(a, requires_grad=True) for a in arrays)
    y = F.layer_norm(x, (x.shape[1],), g, be, 1e-5)
    return [t.numpy() for t in torch.autograd.grad(y, (x, g, be), torch.tensor(dy))]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 6),
    features=st.integers(1, 9),
    offset=st.sampled_from([0.0, 100.0, 1e4]),
    seed=st.integers(0, 2**16),
)
def test_matches_torchs_layer_norm_kernel(rows: int, features: int, offset: float, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)) * rng.uniform(0.01, 10) + offset
    g, be = rng.standard_normal(features), rng.standard_normal(features)
    dy = rng.standard_normal((rows, features))
    f = tc.vjp(LAYER_NORM, wrt=("X", "g", "be"), backend="numpy")
    assert closed_form(f.text)
    for got, want in zip(f(x, g, be, dy), torch_layer_norm_vjp([x, g, be], dy), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_in_float32(backend: str) -> None:
    """Inputs far from zero (mean 1000): as precise as the framework's own kernel."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((16, 32)).astype(np.float32) + 1000]
    arrays += [rng.standard_normal(32).astype(np.float32) for _ in range(2)]
    dy = rng.standard_normal((16, 32)).astype(np.float32)
    record = BACKENDS[backend]
    f = tc.vjp(LAYER_NORM, wrt=("X", "g", "be"), backend=backend)
    got = f(*(record.from_numpy(a) for a in [*arrays, dy]))
    exact = torch_layer_norm_vjp([a.astype(np.float64) for a in arrays], dy.astype(np.float64))
    kernel = torch_layer_norm_vjp(arrays, dy)
    for ours, theirs, truth in zip(got, kernel, exact, strict=True):
        ours = np.asarray(record.to_numpy(ours))
        assert ours.dtype == np.float32
        error, kernel_error = np.abs(ours - truth).max(), np.abs(theirs - truth).max()
        assert error <= 4 * kernel_error + 1e-6 * np.abs(truth).max()


@pytest.mark.parametrize(
    "source",
    [
        LAYER_NORM,
        "Y[b, f] = (X[b, f] - mean[f](X[b, f])) * (var[f](X[b, f]) + 0.1) ** -0.5",
        "v[b] = var[f](X[b, f])\nY[f, b] = g[f] * (X[b, f] - mean[f](X[b, f])) / sqrt(v[b])",
    ],
)
def test_found(source: str) -> None:
    assert closed_form(tc.vjp(source, wrt="X").text)


def test_two_in_one_product() -> None:
    source = (
        "Y[b, f] = (X[b, f] - mean[f](X[b, f])) / sqrt(var[f](X[b, f])) * "
        "(Z[b, f] - mean[f](Z[b, f])) / sqrt(var[f](Z[b, f]) + 1.0)"
    )
    text = tc.vjp(source, wrt=("X", "Z")).text
    assert closed_form(text) and "- xhat_2[b, f] * (rstd_2[b] * mean[f](" in text


@pytest.mark.parametrize(
    "source, wrt",
    [
        # eps differentiated: it is read through rstd, which the closed form leaves out
        ("Y[b, f] = (X[b, f] - mean[f](X[b, f])) / sqrt(var[f](X[b, f]) + eps)", ("X", "eps")),
        # the spread about another centre than the mean, or along other indices
        ("Y[b, f] = (X[b, f] - mean[f](X[b, f])) / sqrt(mean[f](X[b, f] ** 2))", ("X",)),
        ("Y[b, f] = (X[b, f] - mean[f](X[b, f])) / sqrt(var[b](X[b, f]))", ("X",)),
        ("Y[b, f] = (X[b, f] - mean[b](X[b, f])) / sqrt(var[f](X[b, f]))", ("X",)),
        ("Y[b, f] = (X[b, f] - mean[f](Z[b, f])) / sqrt(var[f](X[b, f]))", ("X", "Z")),
        # the spread of X's columns about its row means (X square), by statements or inline
        (
            "m[b] = mean[f](X[b, f])\nv[f] = mean[b]((X[f, b] - m[b]) ** 2)\n"
            "Y[b, f] = (X[b, f] - m[b]) / sqrt(v[b] + 0.001)",
            ("X",),
        ),
        (
            "v[f] = mean[b]((X[f, b] - mean[k](X[b, k])) ** 2)\n"
            "Y[b, f] = (X[b, f] - mean[f](X[b, f])) / sqrt(v[b] + 0.001)",
            ("X",),
        ),
    ],
)
def test_not_found(source: str, wrt: tuple[str, ...]) -> None:
    """Each differentiates read by read, and still right (against jax.vjp of the program)."""
    f = tc.vjp(source, wrt=wrt, backend="numpy")
    assert not closed_form(f.text)
    forward = tc.compile(source, backend="jax")
    rng = np.random.default_rng(1)
    inputs = {name: rng.standard_normal((4, 4)) for name in forward.inputs}
    if "eps" in inputs:
        inputs["eps"] = np.float64(0.5)
    names = [name for name in forward.inputs if name in wrt]
    y, pullback = jax.vjp(
        lambda *xs: forward(**{**inputs, **dict(zip(names, xs, strict=True))}),
        *(jnp.asarray(inputs[name]) for name in names),
    )
    dy = rng.standard_normal(y.shape)
    got = f(*inputs.values(), dy)
    for ours, want in zip(got, pullback(dy), strict=True):
        np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-8)


def test_xla_keeps_no_more_memory_than_jax_grad() -> None:
    """The centred values are kept once, not twice (at 4096 x 1024 in float32, 16 MiB of
    temporaries where jax.grad keeps 32 MiB): fewer temporaries than jax.grad's."""
    shapes = ((256, 512), (512,), (512,), (256, 512))
    x, g, be, w = (jnp.ones(shape, jnp.float32) for shape in shapes)

    def loss(x, g, be, w):
        c = x - x.mean(1, keepdims=True)
        return ((c / jnp.sqrt((c * c).mean(1, keepdims=True) + 1e-5) * g + be) * w).sum()

    source = LAYER_NORM + "L = sum[b, f](Y[b, f] * G[b, f])\n"
    ours = jax.jit(tc.grad(source, wrt=("X", "g"), backend="jax"))
    theirs = jax.jit(jax.grad(loss, argnums=(0, 1)))
    temporaries = [
        f.lower(x, g, be, w).compile().memory_analysis().temp_size_in_bytes for f in (ours, theirs)
    ]
    assert temporaries[0] < temporaries[1]
