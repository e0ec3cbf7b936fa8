"""tensorc's jax backend composed with JAX: jax.jit, jax.grad, jax.vmap, jax.jvp over compiled
functions, dtype promotion (with x64 on and off), integer means, transposed / sliced and
zero-size inputs.

Every program is checked against the same maths written by hand in jnp (cases.py)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tensorc as tc

from .cases import CASES, CASES_BY_NAME, ZERO_IDS, ZERO_SIZE, inputs, jax_ops

OPS = jax_ops()
CASE_IDS = [case.name for case in CASES]


@pytest.fixture(autouse=True)
def x64():
    """float64 maths for the numerical checks (other folders switch it on globally too)."""
    with jax.enable_x64(True):
        yield


def bound(case):
    return functools.partial(tc.compile(case.source, backend="jax"), **case.sizes)


def reference(case, *args):
    return case.reference(OPS, *args, **case.sizes)


def arrays(case, dtype=jnp.float64, seed=0, integers=False):
    return [jnp.asarray(x, dtype=dtype) for x in inputs(case, seed, integers=integers)]


def close(got, expected, rtol=1e-10, atol=1e-12):
    assert isinstance(got, jax.Array), type(got)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
    )


def cotangent_like(x):
    return jnp.linspace(0.5, 1.5, x.size, dtype=x.dtype).reshape(x.shape)


# --- transformations ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jit(case):
    args = arrays(case)
    close(jax.jit(bound(case))(*args), reference(case, *args))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_grad_with_respect_to_every_input(case):
    args = arrays(case)
    cot = cotangent_like(reference(case, *args))
    argnums = tuple(range(len(args)))

    def loss(fn):
        return lambda *a: jnp.sum(fn(*a) * cot)

    got = jax.jit(jax.grad(loss(bound(case)), argnums=argnums))(*args)
    want = jax.jit(jax.grad(loss(lambda *a: reference(case, *a)), argnums=argnums))(*args)
    for g, w in zip(got, want, strict=True):
        close(g, w, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_vmap_over_a_leading_axis_of_the_first_input(case):
    args = arrays(case)
    batch = jnp.stack([args[0], 2 * args[0], args[0] + 1])
    in_axes = (0,) + (None,) * (len(args) - 1)
    got = jax.vmap(bound(case), in_axes=in_axes)(batch, *args[1:])
    want = jnp.stack([reference(case, x, *args[1:]) for x in batch])
    close(got, want)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_jvp(case):
    args = arrays(case)
    tangents = arrays(case, seed=1)
    out, tangent_out = jax.jvp(bound(case), tuple(args), tuple(tangents))
    want_out, want_tangent = jax.jit(lambda p, t: jax.jvp(lambda *a: reference(case, *a), p, t))(
        tuple(args), tuple(tangents)
    )
    close(out, want_out)
    close(tangent_out, want_tangent, rtol=1e-9)


def test_transformations_compose():
    """jit(vmap(grad(...))) and a jvp of a vmap, on attention."""
    case = CASES_BY_NAME["attention"]
    q, k, v = arrays(case)
    qs = jnp.stack([q, 0.5 * q])

    def per_example_grad(fn):
        loss = lambda q_: jnp.sum(fn(q_, k, v) ** 2)  # noqa: E731
        return jax.jit(jax.vmap(jax.grad(loss)))

    close(
        per_example_grad(bound(case))(qs),
        per_example_grad(lambda *a: reference(case, *a))(qs),
        rtol=1e-9,
    )
    f = jax.vmap(bound(case), in_axes=(0, None, None))
    g = jax.vmap(lambda *a: reference(case, *a), in_axes=(0, None, None))
    _, got = jax.jvp(lambda q_: f(q_, k, v), (qs,), (jnp.ones_like(qs),))
    _, want = jax.jvp(lambda q_: g(q_, k, v), (qs,), (jnp.ones_like(qs),))
    close(got, want, rtol=1e-9)


def test_split_with_keyword_size_under_jit_and_vmap():
    """The keyword size is a static argument of the generated function."""
    f = tc.compile("X[b, h, n, d] = Y[b, n, (h d)]", backend="jax")
    y = jnp.arange(48.0).reshape(2, 4, 6)
    want = y.reshape(2, 4, 3, 2).transpose(0, 2, 1, 3)
    close(jax.jit(functools.partial(f, h=3))(y), want)
    close(jax.vmap(functools.partial(f, d=2))(jnp.stack([y, y])), jnp.stack([want, want]))


# --- dtypes -------------------------------------------------------------------------------

DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64, jnp.int32, jnp.int64]
TOLERANCE = {
    jnp.dtype(jnp.float16): 2e-2,
    jnp.dtype(jnp.bfloat16): 5e-2,
    jnp.dtype(jnp.float32): 1e-5,
    jnp.dtype(jnp.float64): 1e-10,
}


@functools.cache
def float64_reference(name):
    with jax.enable_x64(True):
        case = CASES_BY_NAME[name]
        return {
            integers: np.asarray(reference(case, *arrays(case, integers=integers)))
            for integers in (False, True)
        }


# JAX's 32-bit mode (its default) matters only where 64-bit types are asked for.
DTYPE_MODES = [(d, True) for d in DTYPES] + [(jnp.float64, False), (jnp.int64, False)]


@pytest.mark.parametrize(
    ("dtype", "enable_x64"),
    DTYPE_MODES,
    ids=[f"{jnp.dtype(d).name}-{'x64' if x else 'x32'}" for d, x in DTYPE_MODES],
)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_result_dtype_follows_jax(case, dtype, enable_x64):
    """The dtype that jnp's own ops give for the hand-written maths (found by
    `jax.eval_shape`, which runs nothing), in both of JAX's modes (without x64, float64 and
    int64 requests give 32-bit arrays); the values are those of the float64 maths."""
    integers = not jnp.issubdtype(dtype, jnp.floating)
    if integers and not case.ints and case.name != "mean":
        pytest.skip("integer inputs make no sense for this program")
    with jax.enable_x64(enable_x64):
        args = arrays(case, dtype=dtype, integers=integers)
        expected = jax.eval_shape(functools.partial(reference, case), *args)
        got = bound(case)(*args)
    assert isinstance(got, jax.Array)
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    tol = TOLERANCE.get(got.dtype, 0)
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64),
        float64_reference(case.name)[integers],
        rtol=tol,
        atol=tol,
    )


@pytest.mark.parametrize(
    ("name", "dtypes"),
    [
        ("matmul", (jnp.float32, jnp.float64)),
        ("matmul", (jnp.int32, jnp.float32)),
        ("matmul", (jnp.float16, jnp.bfloat16)),
        ("chain_of_three", (jnp.float16, jnp.float32, jnp.float64)),
        ("relu_bias", (jnp.int64, jnp.float32)),
        ("layer_norm", (jnp.float32, jnp.float16, jnp.float64)),
    ],
    ids=str,
)
def test_mixed_dtypes_promote_as_jax_does(name, dtypes):
    case = CASES_BY_NAME[name]
    integers = not all(jnp.issubdtype(d, jnp.floating) for d in dtypes)
    args = [a.astype(d) for a, d in zip(arrays(case, integers=integers), dtypes, strict=True)]
    expected = reference(case, *args)
    assert expected.dtype == functools.reduce(jnp.promote_types, dtypes)
    tol = max(TOLERANCE.get(jnp.dtype(d), 0) for d in dtypes)
    close(bound(case)(*args), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("enable_x64", [True, False], ids=["x64", "x32"])
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.int64], ids=["int32", "int64"])
def test_integer_mean_follows_jnp_mean(dtype, enable_x64):
    with jax.enable_x64(enable_x64):
        a = jnp.arange(12, dtype=dtype).reshape(4, 3)
        expected = jnp.mean(a, axis=0)
        assert jnp.issubdtype(expected.dtype, jnp.floating)
        close(tc.compile("m[j] = mean[i](A[i, j])", backend="jax")(a), expected)


# --- transposed / sliced and zero-size inputs ------------------------------------------------


@pytest.mark.parametrize(
    "make_view",
    [
        lambda x: x if x.ndim < 2 else jnp.transpose(jnp.transpose(x).copy()),
        lambda x: jnp.zeros((2 * x.shape[0], *x.shape[1:]), x.dtype).at[::2].set(x)[::2],
    ],
    ids=["transposed", "strided"],
)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_transposed_and_sliced_inputs(case, make_view):
    args = arrays(case)
    close(bound(case)(*[make_view(a) for a in args]), reference(case, *args))


@pytest.mark.parametrize(("name", "shapes"), ZERO_SIZE, ids=ZERO_IDS)
def test_zero_size_inputs(name, shapes):
    case = CASES_BY_NAME[name]
    args = [jnp.ones(shape, dtype=jnp.float64) for shape in shapes.values()]
    if name == "split_axes_keyword":
        expected = args[0].reshape(0, 4, 2, 3).transpose(0, 2, 1, 3)
    elif name == "merge_axes":
        expected = args[0].transpose(0, 2, 1, 3).reshape(2, 4, 0)
    else:
        expected = reference(case, *args)
    close(bound(case)(*args), expected)
    close(jax.jit(bound(case))(*args), expected)
