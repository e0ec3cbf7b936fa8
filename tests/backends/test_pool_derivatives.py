"""The kernels derivative programs of convolutions and pooling run as (issue 13): a weight's
gradient as `torch.nn.grad.conv*d_weight`, checked against torch's autograd in float64 over
strides, dilations, paddings and layouts."""

from __future__ import annotations

import jax
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


# --------------------------------------------------------------------- pools and their derivatives

POOLS = {  # program, X's shape, window sizes by keyword
    "2x2 tiles": (
        "P[n, c, y, x] = max[p, q](X[n, c, 2*y + p, 2*x + q])",
        (2, 3, 6, 8),
        {"p": 2, "q": 2},
    ),
    "tiles, a row left over": (
        "P[n, c, y, x] = max[p, q](X[n, c, 2*y + p, 2*x + q])",
        (1, 2, 7, 5),
        {"p": 2, "q": 2},
    ),
    "from an offset": (
        "P[c, y, x] = max[p, q](X[c, 2*y + p + 1, 3*x + q])",
        (2, 9, 9),
        {"p": 2, "q": 3},
    ),
    "3x3, stride 2": (
        "P[c, y, x] = max[p, q](X[c, 2*y + p, 2*x + q])",
        (2, 9, 7),
        {"p": 3, "q": 3},
    ),
    "min, dilated 1-D": ("P[c, t] = min[k](X[c, t + 2*k])", (3, 11), {"k": 3}),
}


def pooled_shape(source: str, x_shape: tuple[int, ...], windows: dict[str, int]) -> tuple[int, ...]:
    """P's shape, as tensorc's forward program gives it."""
    x = np.zeros(x_shape)
    return tuple(tc.compile(source, backend="numpy")(X=x, **windows).shape)


def tie_sharing_reference(
    source: str, x: np.ndarray, g: np.ndarray, windows: dict[str, int]
) -> np.ndarray:
    """The derivative of sum(P * G) by its definition: each window's g shared equally by its
    elements equal to the window's extreme, one window at a time (positions found by reading
    tensorc's forward program at one-hot inputs: which elements each output reads)."""
    forward = tc.compile(source, backend="numpy")
    extreme = np.max if "max[" in source else np.min
    reads: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for position in np.ndindex(*x.shape):  # the outputs whose windows hold `position`
        probe = np.zeros(x.shape)
        probe[position] = 1.0 if extreme is np.max else -1.0
        hit = np.argwhere(forward(X=probe, **windows) != 0)
        for output in map(tuple, hit):
            reads.setdefault(output, []).append(position)
    dx = np.zeros(x.shape)
    for output, positions in reads.items():
        values = np.array([x[p] for p in positions])
        tied = [p for p, v in zip(positions, values, strict=True) if v == extreme(values)]
        for p in tied:
            dx[p] += g[output] / len(tied)
    return dx


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("name", POOLS)
def test_a_pool_derivative_shares_ties_on_every_backend(name: str, backend: str) -> None:
    source, x_shape, windows = POOLS[name]
    rng = np.random.default_rng(2)
    x = np.round(rng.standard_normal(x_shape), 1)  # rounded: windows with tied extremes
    g = rng.standard_normal(pooled_shape(source, x_shape, windows))
    target = source.split(" = ")[0]
    labels = target[target.index("[") + 1 : -1]
    loss = f"{source}\nL = sum[{labels}]({target} * G[{labels}])"
    gradient = tc.grad(loss, wrt=("X",), backend=backend)
    arrays = {"numpy": np.asarray, "torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    (got,) = gradient(X=arrays(x), G=arrays(g), **windows)
    assert "_pool_derivative(" in gradient.source_for(X=arrays(x), G=arrays(g), **windows)
    want = tie_sharing_reference(source, x, g, windows)
    tolerance = 1e-6 if backend == "jax" else 1e-12  # JAX computes in float32
    np.testing.assert_allclose(np.asarray(got), want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_pool_derivative_adds_to_the_other_uses_derivative(backend: str) -> None:
    """X read by the pool and by another term: the pool's derivative is added to the other's
    (the `+=` into an array that is not zeros)."""
    source, x_shape, windows = POOLS["2x2 tiles"]
    rng = np.random.default_rng(3)
    x = np.round(rng.standard_normal(x_shape), 1)
    g = rng.standard_normal(pooled_shape(source, x_shape, windows))
    h = rng.standard_normal(x_shape)
    loss = (
        f"{source}\nL = sum[n, c, y, x](P[n, c, y, x] * G[n, c, y, x])"
        " + sum[n, c, i, j](X[n, c, i, j] * H[n, c, i, j])"
    )
    gradient = tc.grad(loss, wrt=("X",), backend=backend)
    arrays = {"numpy": np.asarray, "torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    (got,) = gradient(X=arrays(x), G=arrays(g), H=arrays(h), **windows)
    want = tie_sharing_reference(source, x, g, windows) + h
    tolerance = 1e-6 if backend == "jax" else 1e-12
    np.testing.assert_allclose(np.asarray(got), want, rtol=tolerance, atol=tolerance)


def test_torch_differentiates_the_pool_derivative_again() -> None:
    """The torch helper's path for a cotangent that needs a gradient (autograd records no
    `out=` product): d/dG of sum(dX * W) is W's tie-shared sum over each window."""
    source, x_shape, windows = POOLS["2x2 tiles"]
    rng = np.random.default_rng(4)
    x = torch.from_numpy(np.round(rng.standard_normal(x_shape), 1))
    g = torch.from_numpy(rng.standard_normal(pooled_shape(source, x_shape, windows)))
    w = torch.from_numpy(rng.standard_normal(x_shape))
    loss = f"{source}\nL = sum[n, c, y, x](P[n, c, y, x] * G[n, c, y, x])"
    gradient = tc.grad(loss, wrt=("X",), backend="torch")
    g.requires_grad_()
    (dx,) = gradient(X=x, G=g, **windows)
    (dg,) = torch.autograd.grad((dx * w).sum(), (g,))
    # linear in g: the derivative at each unit cotangent, read against w
    want = np.zeros(g.shape)
    for output in np.ndindex(*g.shape):
        unit = np.zeros(g.shape)
        unit[output] = 1.0
        want[output] = (tie_sharing_reference(source, x.numpy(), unit, windows) * w.numpy()).sum()
    np.testing.assert_allclose(dg.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("name", POOLS)
def test_a_small_pool_is_the_extreme_of_strided_slices(name: str, backend: str) -> None:
    """On torch's CPU and on JAX, max and min pools over small windows are maxima (minima)
    of strided slices: equal to the framework's pooling, NaN and infinities included."""
    source, x_shape, windows = POOLS[name]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(x_shape).astype(np.float32)  # JAX's default dtype
    x.flat[::7] = np.nan
    x.flat[3::11] = np.inf
    x.flat[5::13] = -np.inf
    f = tc.compile(source, backend=backend)
    arrays = {"torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    assert "_window_extreme(" in f.source_for(X=arrays(x), **windows)
    want = tc.compile(source, backend="numpy")(X=x, **windows)  # NumPy's own strided views
    np.testing.assert_array_equal(np.asarray(f(X=arrays(x), **windows)), want)


def test_a_channels_last_pool_keeps_torchs_kernel() -> None:
    """Over (N, H, W, C), torch's max_pool2d runs on a channels-last view, vectorised over the
    channels: faster than slices for 3x3 windows, so the kernel stays."""
    f = tc.compile("P[n, h, w, c] = max[kh, kw](X[n, 2*h + kh, 2*w + kw, c])", backend="torch")
    x = torch.randn(2, 7, 7, 3)
    assert "_window_extreme(" not in f.source_for(X=x, kh=3, kw=3)
    want = torch.nn.functional.max_pool2d(x.permute(0, 3, 1, 2), 3, 2).permute(0, 2, 3, 1)
    torch.testing.assert_close(f(X=x, kh=3, kw=3), want)


# ------------------------------------------------ found by review: counts, vmap, targets, ties

TILE_LOSS = "P[c, y] = max[p](X[c, 2*y + p])\nL = sum[c, y](P[c, y] * G[c, y])"


@pytest.mark.parametrize("backend", ["numpy", "jax"])  # torch has no max_pool of int8
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_ties_of_small_integers_are_counted_without_wrapping(dtype: str, backend: str) -> None:
    """144 tied zeros in one window: counted in int8 they wrapped to -112, in uint8 to 0."""
    x = np.zeros((1, 144), dtype)
    g = np.ones((1, 1))
    gradient = tc.grad(TILE_LOSS.replace("2*y", "144*y"), wrt=("X",), backend=backend)
    arrays = {"numpy": np.asarray, "torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    (got,) = gradient(X=arrays(x), G=arrays(g), p=144)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.full((1, 144), 1 / 144), rtol=1e-6)


def test_torch_counts_tied_bools_in_integers() -> None:
    """bool + bool is a logical or in torch: two tied `True` were one."""
    gradient = tc.grad(TILE_LOSS, wrt=("X",), backend="torch")
    x = torch.tensor([[True, True]])
    (got,) = gradient(X=x, G=torch.tensor([[1.0]]), p=2)
    torch.testing.assert_close(got, torch.tensor([[0.5, 0.5]]))


@pytest.mark.parametrize("stride", [2, 1])  # tiles; overlapping windows
def test_torch_func_vmap_maps_a_pool_derivative(stride: int) -> None:
    loss = TILE_LOSS.replace("2*y", f"{stride}*y")
    gradient = tc.grad(loss, wrt=("X",), backend="torch")
    x = torch.randn(5, 2, 6).round(decimals=1)
    g = torch.randn(5, 2, 3 if stride == 2 else 5)
    mapped = torch.func.vmap(lambda a, b: gradient(X=a, G=b, p=2)[0])(x, g)
    torch.testing.assert_close(
        mapped, torch.stack([gradient(X=a, G=b, p=2)[0] for a, b in zip(x, g, strict=True)])
    )


HAND_WRITTEN = {  # the derivative's formula written by hand into targets not shaped as X
    "a new target": "Y[2*y + p] += G[y] / sum[p](where(X[2*y + p] == M[y], X[2*y + p] ** 0, 0))"
    " * where(X[2*y + p] == M[y], X[2*y + p] ** 0, 0)",
    "a longer target": "Y[i] = Z[i]\nY[2*y + p] += G[y] / sum[p](where(X[2*y + p] == M[y], "
    "X[2*y + p] ** 0, 0)) * where(X[2*y + p] == M[y], X[2*y + p] ** 0, 0)",
}


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_the_formula_into_another_shape_is_no_pool_derivative(name: str, backend: str) -> None:
    """Y's shape is the smallest that holds the writes (6 of X's 7) or Z's (10): only a
    target of X's own shape may take the kernel, which writes X's shape."""
    source = HAND_WRITTEN[name]
    rng = np.random.default_rng(6)
    x, z = np.round(rng.standard_normal(7), 1), rng.standard_normal(10)
    m, g = rng.standard_normal(3), rng.standard_normal(3)
    m[0] = x[:2].max()
    arrays = {"torch": torch.from_numpy, "jax": jnp.asarray}[backend]
    inputs = {"G": g, "X": x, "M": m} | ({"Z": z} if "Z" in source else {})
    want = tc.compile(source, backend="numpy")(**inputs, p=2)
    got = tc.compile(source, backend=backend)(**{k: arrays(v) for k, v in inputs.items()}, p=2)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-6)


def test_framework_autograd_through_a_small_pool_shares_ties() -> None:
    """The forward pool's slices are stacked and reduced by amax, whose own derivative shares
    ties equally (as tc.grad's does); chained maxima gave 1/8, 1/8, 1/4, 1/2."""
    f = tc.compile(POOLS["2x2 tiles"][0], backend="torch")
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(f(X=x, p=2, q=2).sum(), (x,))
    torch.testing.assert_close(grad, torch.full((1, 1, 2, 2), 0.25))
    jax_forward = tc.compile(POOLS["2x2 tiles"][0], backend="jax")
    jax_grad = jax.grad(lambda a: jax_forward(X=a, p=2, q=2).sum())(jnp.zeros((1, 1, 2, 2)))
    np.testing.assert_allclose(np.asarray(jax_grad), np.full((1, 1, 2, 2), 0.25))


def test_a_pool_summed_alone_takes_the_kernel() -> None:
    """With `L = sum(P)` the cotangent is the constant 1 and the formula `T / count`."""
    gradient = tc.grad("P[c, y] = max[p](X[c, 2*y + p])\nL = sum[c, y](P[c, y])", wrt=("X",))
    x = np.array([[1.0, 1.0, 0.0, 2.0]])
    assert "_pool_derivative(" in gradient.source_for(X=x, p=2)
    np.testing.assert_array_equal(gradient(X=x, p=2)[0], [[0.5, 0.5, 0.0, 1.0]])
