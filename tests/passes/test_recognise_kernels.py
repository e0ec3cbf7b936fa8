"""recognise_kernels: convolutions, pooling and transposed convolutions are recognised from
the positions alone and become kernel nodes; every other affine form keeps the general
gathers and scatters, and every program keeps its answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.compiler import UNKNOWN_SIZES, front_end
from tensorc.ir import kernels
from tensorc.ir import nodes as ir
from tensorc.passes import PASSES
from tensorc.passes.recognise_kernels import recognise_kernels

FIXTURES = [
    (
        "O[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * W[o, c, kh, kw]",
        "O[n, o, h, w] = convolution(I[n, c, I.2, I.3], W[o, c, kh, kw] "
        "at [pad(h + kh - 1), pad(w + kw - 1)])[n, o, h, w]",
    ),
    (
        "O[n, h, w, o] = I[n, h + kh, w + kw, c] * W[kh, kw, c, o]",
        "O[n, h, w, o] = convolution(I[n, I.1, I.2, c], W[kh, kw, c, o] "
        "at [h + kh, w + kw])[n, h, w, o]",
    ),
    (
        "Y[n, c, t] = X[n, c, pad(t - k)] * W[c, k]",
        "Y[n, c, t] = convolution(X[n, c, X.2], W[c, k] at [pad(t - k)], groups c)[n, c, t]",
    ),
    (  # the lowering's split of (g c) and merge of (g o) are gone: the kernel reads them
        "O[n, (g o), t] = X[n, (g c), t + k] * W[(g o), c, k]",
        "O[n, (g o), t] = convolution(X[n, (g c), X.2], W[(g o), c, k] "
        "at [t + k], groups g)[n, (g o), t]",
    ),
    (
        "P[n, h, w, c] = max[kh, kw](X[n, 2*h + kh, 2*w + kw, c])",
        "P[n, h, w, c] = max_pool(X[n, X.1, X.2, c] at [2*h + kh, 2*w + kw])[n, h, w, c]",
    ),
    (
        "Y[n, o, 2*h + kh, 2*w + kw] += X[n, c, h, w] * W[c, o, kh, kw]",
        "Y[n, o, Y.2, Y.3] = convolution_transpose(X[n, c, h, w], W[c, o, kh, kw] "
        "at [2*h + kh, 2*w + kw])[n, o, Y.2, Y.3]",
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXTURES)
def test_recognised_ir(source: str, expected: str, ir_text) -> None:
    lines = ir_text(source, recognise_kernels).splitlines()
    assert lines[-2] == expected


# source: the shapes of its inputs and its keyword sizes (each read valid), and the kernel
KERNELS = {
    "O[n, o, t] = X[n, c, pad(2*t + 3*k - 1)] * W[o, c, k]": (
        [(2, 3, 12), (4, 3, 3)],
        {},
        kernels.Convolution,
    ),
    "O[n, (g o), h] = X[n, (g c), pad(h + k - 1)] * W[(g o), c, k]": (
        [(2, 6, 7), (4, 3, 3)],
        {},
        kernels.Convolution,
    ),
    "O[n, o, h, w] = 0.5 * I[n, c, h + kh, w + kw] * W[o, c, kh, kw]": (
        [(2, 3, 6, 5), (4, 3, 2, 2)],
        {},
        kernels.Convolution,
    ),
    "y[i] = t[i + j] * x[j]": ([(9,), (3,)], {}, kernels.Convolution),
    "y[b, i] = t[b, i - j + 3] * x[j]": ([(2, 9), (4,)], {}, kernels.Convolution),  # flipped
    "P[n, c, h] = min[k](X[n, c, h + 2*k])": ([(2, 3, 9)], {"k": 3}, kernels.Pool),
    "P[c, h] = mean[k](X[c, pad(2*h + k - 1, 1)])": ([(3, 9)], {"k": 3}, kernels.Pool),
    "P[c, h] = X[c, 3*h + k]": ([(3, 9)], {"k": 2}, kernels.Pool),
    "Y[o, 2*h + k] += X[c, h] * W[c, o, k]": (
        [(3, 5), (3, 4, 3)],
        {},
        kernels.ConvolutionTranspose,
    ),
    "Y[o, 3*h + k] = X[c, h] * W[c, o, k]": ([(3, 5), (3, 4, 3)], {}, kernels.ConvolutionTranspose),
}

# Affine forms that are no kernel of a framework: they keep the general forms.
GENERAL = {
    "T[i, j] = t[i - j + 3]": ([(9,)], {"j": 4}),  # a Toeplitz matrix: a read, no product
    "y[i] = x[-i + 3]": ([(4,)], {}),  # a flip
    "L[i, j] = U[pad(i - 1), j] + U[pad(i + 1), j] - 2 * U[i, j]": ([(5, 3)], {}),  # a stencil
    "O[n, o, h] = X[n, c, clamp(h + k - 1)] * W[o, c, k]": ([(2, 3, 7), (4, 3, 3)], {}),  # edge
    "P[c, h] = max[k](X[c, wrap(h + k)])": ([(3, 7)], {"k": 3}),  # periodic
    "O[h, w] = X[h + k, w + k] * W[k]": ([(7, 7), (3,)], {}),  # one window index, two axes
    "O[h] = X[h + k + j] * W[k, j]": ([(9,), (3, 2)], {}),  # two window indices, one axis
    "O[n, o, h] = X[n, c, h + k] * W[o, c, k] * S[o]": ([(2, 3, 7), (4, 3, 3), (4,)], {}),
    "O[n, o, h] = X[n, c, h + k] * W[o, c]": ([(2, 3, 7), (4, 3)], {"k": 2}),  # k read alone
    "P[n, h] = mean[c, k](X[n, c, 2*h + k])": ([(2, 3, 9)], {"k": 2}),  # channels too
    "O[..., o, h] = X[..., c, h + k] * W[o, c, k]": ([(2, 3, 7), (4, 3, 3)], {}),  # any batch
    "y[i] = A[j, i + 2*j] * x[j]": ([(3, 10), (3,)], {}),  # j on a plain axis too: a slant
    "Y[n, o, 2*h + k] += X[n, c, h] * W[c, o, k] * X[n, c, h]": ([(2, 3, 5), (3, 4, 3)], {}),
}


def _kinds(source: str) -> set[type]:
    program = recognise_kernels(front_end(source), UNKNOWN_SIZES)
    return {type(node) for let in program.lets for node in ir.walk(let.value)}


@pytest.mark.parametrize("source", KERNELS)
def test_kernels_are_recognised(source: str) -> None:
    assert KERNELS[source][2] in _kinds(source)


@pytest.mark.parametrize("source", GENERAL)
def test_other_affine_forms_keep_the_general_forms(source: str) -> None:
    assert not _kinds(source) & set(kernels.KERNELS)


def _arguments(
    shapes: list[tuple[int, ...]], keywords: dict[str, int]
) -> tuple[list[np.ndarray], dict[str, int]]:
    rng = np.random.default_rng(len(shapes))
    return [rng.standard_normal(shape) for shape in shapes], keywords


@pytest.mark.parametrize(
    ("source", "shapes", "keywords"),
    [(s, shapes, keywords) for s, (shapes, keywords, _) in KERNELS.items()]
    + [(s, shapes, keywords) for s, (shapes, keywords) in GENERAL.items()],
)
def test_answers_are_the_general_forms(source, shapes, keywords, backend, same_answers) -> None:
    same_answers(source, (recognise_kernels,), backend, arguments=_arguments(shapes, keywords))


def test_it_runs_before_the_contraction_passes() -> None:
    names = [apply.__name__ for apply in PASSES]
    assert names.index("recognise_kernels") < names.index("plan_contractions")


def test_a_kernel_reads_an_earlier_target_and_feeds_a_later_one() -> None:
    source = (
        "R[n, c, t] = relu(X[n, c, t])\n"
        "C[n, o, t] = R[n, c, pad(t + k - 1)] * W[o, c, k]\n"
        "P[n, o, u] = max[j](C[n, o, 2*u + j])\n"
        "s = sum[n, o, u](P[n, o, u])"
    )
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 8)), rng.standard_normal((4, 3, 3))
    f = tc.compile(source, backend="numpy")
    assert "convolution(" in f.ir and "max_pool(" in f.ir
    general = tc.compile(source, backend="numpy", passes=())
    assert np.isclose(f(x, w, j=2), general(x, w, j=2), rtol=1e-12)


def test_a_read_shared_with_an_earlier_statement_is_still_a_convolution() -> None:
    """A weight's gradient reads the input at the positions that the forward convolution
    read; common subexpressions make that read a transpose of the first, which is still
    recognised (it was a window copy and a matmul)."""
    source = (
        "C[n, o, h, w] = I[n, c, pad(h + kh - 1), pad(w + kw - 1)] * K[o, c, kh, kw]\n"
        "dK[o, c, kh, kw] = C[n, o, h, w] * I[n, c, pad(h + kh - 1), pad(w + kw - 1)]"
    )
    rng = np.random.default_rng(0)
    i, k = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    f = tc.compile(source, backend="torch")
    got = f(I=torch.from_numpy(i), K=torch.from_numpy(k)).numpy()
    assert f.source.count("torch.nn.functional.conv2d(") == 2
    assert "_window(" not in f.source
    np.testing.assert_allclose(got, tc.compile(source, backend="numpy")(I=i, K=k), rtol=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_an_index_on_a_plain_axis_and_in_a_position_is_no_convolution(backend: str) -> None:
    """`A[j, i + 2*j]` reads along a slanted line of A, which no kernel computes: it stays
    general (once the read was shared as a transpose, JAX was handed a mismatched kernel)."""
    source = "y[i] = A[j, i + 2*j] * x[j]"
    rng = np.random.default_rng(2)
    a, x = rng.standard_normal((3, 10)), rng.standard_normal(3)
    want = np.array([sum(a[j, i + 2 * j] * x[j] for j in range(3)) for i in range(6)])
    f = tc.compile(source, backend=backend)
    if backend == "torch":
        got = f(torch.from_numpy(a), torch.from_numpy(x)).numpy()
    else:
        got = np.asarray(f(a, x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
