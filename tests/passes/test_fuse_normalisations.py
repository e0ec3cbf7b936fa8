"""fuse_normalisations: layer norms, RMS norms, log_softmax and gelu/silu/softplus written out
in primitives become one node or one operation, found in the IR (through other statements
too); PyTorch calls its kernels, JAX its layer norm, NumPy the formula, and every backend
gives what the written-out program gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.ir import nodes as ir
from tensorc.passes import PASSES
from tensorc.passes.fuse_normalisations import formula, fuse_normalisations, written_out

LAYER_NORM = "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5) * g[j] + b[j]"
STEPS = """\
mu[n] = mean[c](X[n, c])
v[n] = mean[c]((X[n, c] - mu[n]) ** 2)
Y[n, c] = (X[n, c] - mu[n]) / sqrt(v[n] + 0.00001) * g[c] + b[c]"""
RMS = "y[b, t, d] = x[b, t, d] / sqrt(mean[d](x[b, t, d] ** 2) + 1e-6) * w[d]"

# (source, what the optimised IR shows instead of the formula)
RECOGNISED = [
    (LAYER_NORM, "layer_norm[j](x[i, j], g[j], b[j], eps=1e-05)"),
    (STEPS, "layer_norm[c](X[n, c], g[c], b[c], eps=1e-05)"),
    ("y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5)", "layer_norm[j]"),
    (
        "y[i, j] = g[j] * (x[i, j] - mean[j](x[i, j])) * (var[j](x[i, j]) + 1e-5) ** -0.5",
        "layer_norm",
    ),
    (LAYER_NORM.replace("* g[j] + b[j]", "+ b[j]"), "layer_norm[j](x[i, j], 1, b[j]"),
    (
        "m[i] = mean[h, d](x[i, h, d])\n"
        "y[i, h, d] = (x[i, h, d] - m[i]) / sqrt(mean[h, d]((x[i, h, d] - m[i]) ** 2) + 1e-5)"
        " * g[h, d]",
        "layer_norm[h, d](x[i, h, d], g[h, d], 0, eps=1e-05)",
    ),
    ("y[j, i] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5)", "permute(layer_norm"),
    (RMS, "rms_norm[d](x[b, t, d], w[d], 0, eps=1e-06)"),
    ("y[i, j] = x[i, j] / sqrt(mean[j](x[i, j] * x[i, j]) + 1e-6) * w[j] + c[j]", "rms_norm[j]"),
    ("y[i, j] = x[i, j] - logsumexp[j](x[i, j])", "log_softmax[j](x[i, j])"),
    ("y[i, j] = log(softmax[j](x[i, j]))", "log_softmax[j](x[i, j])"),
    ("y[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2)))", "gelu(x[i])"),
    ("y[i] = x[i] * (1 + erf(x[i] * 0.7071067811865476)) / 2", "gelu(x[i])"),
    ("y[i] = x[i] * sigmoid(x[i])", "silu(x[i])"),
    ("y[i] = x[i] / (1 + exp(-x[i]))", "silu(x[i])"),
    ("y[i] = log(1 + exp(x[i]))", "softplus(x[i])"),
    ("y[i] = log1p(exp(x[i]))", "softplus(x[i])"),
]

# Look-alikes that mean something else: each must keep its formula.
NOT_RECOGNISED = [
    "y[i, j] = (x[i, j] - mean[j](x[i, j])) / (std[j](x[i, j]) + 1e-5)",  # eps outside the root
    "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[i](x[i, j]) + 1e-5)",  # other axes
    "y[i, j] = (x[i, j] - mean[j](z[i, j])) / sqrt(var[j](x[i, j]) + 1e-5)",  # another mean
    "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5) * g[i]",  # gain
    "y[i, j] = x[i, j] / sqrt(mean[j](z[i, j] ** 2) + 1e-6)",
    "y[i, j] = x[i, j] - logsumexp[j](z[i, j])",
    "y[i] = 0.4 * x[i] * (1 + erf(x[i] / sqrt(2)))",
    "y[i] = x[i] * sigmoid(z[i])",
    "y[i] = log(2 + exp(x[i]))",
]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


KERNELS = ("layer_norm", "rms_norm", "log_softmax", "gelu(", "silu(", "softplus(")


def optimised_ir(source: str) -> str:
    return tc.compile(source, passes=PASSES).ir


@pytest.mark.parametrize(("source", "shown"), RECOGNISED)
def test_patterns_are_recognised_from_the_ir(source, shown):
    text = optimised_ir(source)
    assert shown in text, text


@pytest.mark.parametrize("source", NOT_RECOGNISED)
def test_look_alikes_keep_their_formula(source):
    text = optimised_ir(source)
    assert not any(kernel in text for kernel in KERNELS), text


def inputs(source: str, rng: np.random.Generator, dtype=np.float64) -> list[np.ndarray]:
    """An array per input, one size per index (each index its own)."""
    program = tc.compile(source)
    sizes: dict[str, int] = {}
    labels = program.labels()
    shape = [
        tuple(sizes.setdefault(label, 3 + len(sizes)) for label in labels[n])
        for n in program.inputs
    ]
    return [rng.standard_normal(s).astype(dtype) for s in shape]


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize(("source", "shown"), RECOGNISED)
def test_every_backend_gives_the_written_out_answer(source, shown, backend, rng):
    arrays = inputs(source, rng)
    expected = tc.compile(source, backend="numpy", passes=())(*arrays)
    convert = {"numpy": np.asarray, "torch": torch.as_tensor}.get(backend)
    if convert is None:
        import jax.numpy as jnp

        convert = jnp.asarray
    got = tc.compile(source, backend=backend)(*[convert(a) for a in arrays])
    rtol = 1e-5 if backend == "jax" else 1e-10  # JAX computes in float32 by default
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=rtol)


def test_torch_calls_its_kernels_jax_its_layer_norm_numpy_the_formula():
    torch_source = tc.compile(STEPS, backend="torch").source
    assert "torch.nn.functional.layer_norm(" in torch_source
    assert "torch.nn.functional.rms_norm(" in tc.compile(RMS, backend="torch").source
    # JAX keeps the formula: jax.nn.standardize lost accuracy in bfloat16 (tests/frameworks)
    assert "jax.nn.standardize(" not in tc.compile(STEPS, backend="jax").source
    assert "jax.nn.standardize(" not in tc.compile(RMS, backend="jax").source
    numpy_source = tc.compile(STEPS, backend="numpy").source
    assert "np.sqrt(" in numpy_source and "layer_norm" not in numpy_source


def test_statements_that_are_returned_stay():
    text = optimised_ir(STEPS + "\nreturn Y, mu")
    assert "layer_norm" in text and "mu[n] = mean[c]" in text


@pytest.mark.parametrize(
    ("x", "gain"),
    [
        (torch.float32, torch.float64),
        (torch.float64, torch.float32),
        (torch.float32, torch.float32),
    ],
)
def test_the_kernels_give_the_formulas_dtype(x, gain, rng):
    arrays = inputs(LAYER_NORM, rng)
    values = [torch.as_tensor(arrays[0]).to(x), *(torch.as_tensor(a).to(gain) for a in arrays[1:])]
    got = tc.compile(LAYER_NORM, backend="torch")(*values)
    want = tc.compile(LAYER_NORM, backend="torch", passes=())(*values)
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_derivatives_of_a_recognised_norm_are_written_out(rng):
    """Autodiff works on the program, not on the optimised IR: the derivative of a layer norm
    is a program like any other, and it agrees with torch's own gradient of F.layer_norm."""
    source = LAYER_NORM + "\nL = sum[i, j](y[i, j] * w[i, j])"
    derivative = tc.grad(source, wrt="x", backend="torch")
    x, g, b, w = (torch.as_tensor(a) for a in inputs(source, rng))
    leaf = x.clone().requires_grad_()
    loss = (torch.nn.functional.layer_norm(leaf, x.shape[-1:], g, b, 1e-5) * w).sum()
    torch.testing.assert_close(derivative(x, g, b, w), torch.autograd.grad(loss, leaf)[0])
    assert "dx[i, j] =" in derivative.source


def test_written_out_turns_the_node_back_into_its_formula():
    program = tc.compile(LAYER_NORM)._program
    fused = fuse_normalisations(program, tc.compiler.UNKNOWN_SIZES)
    nodes = [n for let in fused.lets for n in ir.walk(let.value) if isinstance(n, ir.Normalise)]
    assert len(nodes) == 1 and nodes[0].kind == "layer"
    plain = written_out(fused, frozenset())
    assert not any(isinstance(n, ir.Normalise) for let in plain.lets for n in ir.walk(let.value))
    assert written_out(fused, frozenset({"layer"})) is not plain
    assert formula(nodes[0]).indices == nodes[0].indices


@pytest.mark.parametrize(("dtype", "center"), [("bfloat16", 50.0), ("float32", 1000.0)])
def test_jax_layer_norm_stays_accurate_for_data_far_from_zero(dtype: str, center: float) -> None:
    """Why JAX keeps the written-out layer norm: `jax.nn.standardize` takes the variance as
    mean(x ** 2) - mean(x) ** 2, which is off by thousands in bfloat16 for data around 50 and
    by 0.16 in float32 for data around 1000; the formula's two passes are not."""
    import jax.numpy as jnp

    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(center, 1.0, (16, 256)), dtype=dtype)
    exact = np.asarray(x, np.float64)  # the values as the dtype holds them
    source = "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5)"
    got = np.asarray(tc.compile(source, backend="jax")(x), np.float64)
    want = (exact - exact.mean(1, keepdims=True)) / np.sqrt(exact.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(
        got, want, atol=0.25 if dtype == "bfloat16" else 1e-3
    )  # bf16: 1 ulp of 50
