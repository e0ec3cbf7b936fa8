"""Every form of CONTRACT §7 (and the fast forms' neighbours) on every backend, against NumPy
references written with fancy indexing, take_along_axis, np.add.at and np.argmax: with
duplicate positions, empty index tensors, and int32 and int64 positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from gather_support import BACKENDS, assert_close, run
from scipy.special import logsumexp


@dataclass(frozen=True)
class Form:
    """A program, its arguments for `count` positions of integer dtype `dtype` (as NumPy
    arrays, with the keyword sizes), and its NumPy reference."""

    source: str
    arguments: Callable[[np.random.Generator, Any, int], tuple[list[Any], dict[str, int]]]
    reference: Callable[..., Any]


def _table(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _positions(rng: np.random.Generator, high: int, shape: tuple[int, ...], dtype: Any) -> Any:
    """Positions in 0..high-1 with duplicates (high is small against their count)."""
    return rng.integers(0, high, shape).astype(dtype)


def _segment_sum(seg: np.ndarray, x: np.ndarray, s: int) -> np.ndarray:
    out = np.zeros((s, x.shape[1]))
    np.add.at(out, seg, x)
    return out


def _bincount(seg: np.ndarray, s: int) -> np.ndarray:
    return np.bincount(seg, minlength=s)


FORMS = {
    "embedding": Form(
        "E[b, t, d] = W[ids[b, t], d]",
        lambda rng, dt, n: ([_table(rng, 5, 3), _positions(rng, 5, (2, n), dt)], {}),
        lambda W, ids: W[ids],
    ),
    "take along axis 1": Form(
        "E[b, d] = W[d, ids[b]]",
        lambda rng, dt, n: ([_table(rng, 3, 5), _positions(rng, 5, (n,), dt)], {}),
        lambda W, ids: W[:, ids].T,
    ),
    "middle axis": Form(
        "E[a, i, c] = X[a, ids[i], c]",
        lambda rng, dt, n: ([_table(rng, 2, 5, 3), _positions(rng, 5, (n,), dt)], {}),
        lambda X, ids: X[:, ids, :],
    ),
    "after an ellipsis": Form(
        "E[..., i] = X[..., ids[i]]",
        lambda rng, dt, n: ([_table(rng, 2, 3, 5), _positions(rng, 5, (n,), dt)], {}),
        lambda X, ids: X[..., ids],
    ),
    "positions of positions": Form(
        "E[i, d] = W[ids[tok[i]], d]",
        lambda rng, dt, n: (
            [_table(rng, 5, 3), _positions(rng, 5, (4,), dt), _positions(rng, 4, (n,), dt)],
            {},
        ),
        lambda W, ids, tok: W[ids[tok]],
    ),
    "offset": Form(
        "E[i, d] = W[ids[i] + 1, d]",
        lambda rng, dt, n: ([_table(rng, 5, 3), _positions(rng, 4, (n,), dt)], {}),
        lambda W, ids: W[ids + 1],
    ),
    "nll": Form(
        "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]",
        lambda rng, dt, n: ([_table(rng, n, 4) * 1000, _positions(rng, 4, (n,), dt)], {}),
        lambda Z, y: logsumexp(Z, axis=1) - np.take_along_axis(Z, y[:, None], 1)[:, 0],
    ),
    "take_along_axis": Form(
        "G[i, j] = X[i, idx[i, j]]",
        lambda rng, dt, n: ([_table(rng, 3, 4), _positions(rng, 4, (3, n), dt)], {}),
        lambda X, idx: np.take_along_axis(X, idx, 1),
    ),
    "pick broadcast": Form(
        "G[b, i, j] = X[b, i, idx[i, j]]",
        lambda rng, dt, n: ([_table(rng, 2, 3, 4), _positions(rng, 4, (3, n), dt)], {}),
        lambda X, idx: np.take_along_axis(X, idx[None], 2),
    ),
    "pick transposed": Form(
        "G[j, i] = X[idx[j, i], i]",
        lambda rng, dt, n: ([_table(rng, 4, 3), _positions(rng, 4, (n, 3), dt)], {}),
        lambda X, idx: np.take_along_axis(X, idx, 0),
    ),
    "two lookups": Form(
        "Y[i, j] = X[ids[i], ids[j]]",
        lambda rng, dt, n: ([_table(rng, 4, 4), _positions(rng, 4, (n,), dt)], {}),
        lambda X, ids: X[np.ix_(ids, ids)],
    ),
    "segment sum": Form(
        "S[s, d] = 0\nS[seg[e], d] += X[e, d]",
        lambda rng, dt, n: ([_positions(rng, 3, (n,), dt), _table(rng, n, 2)], {"s": 3}),
        _segment_sum,
    ),
    "segment sum along axis 1": Form(
        "S[d, s] = 0\nS[d, seg[e]] += X[e, d]",
        lambda rng, dt, n: ([_positions(rng, 3, (n,), dt), _table(rng, n, 2)], {"s": 3}),
        lambda seg, X, s: _segment_sum(seg, X, s).T,
    ),
    "segment sum by positions of rank 2": Form(
        "S[s, d] = 0\nS[seg[b, t], d] += X[b, t, d]",
        lambda rng, dt, n: (
            [_positions(rng, 3, (2, n), dt), _table(rng, 2, n, 2)],
            {"s": 3},
        ),
        lambda seg, X, s: _segment_sum(seg.reshape(-1), X.reshape(-1, 2), s),
    ),
    "counts": Form(
        "C[s] = 0\nC[seg[e]] += 1",
        lambda rng, dt, n: ([_positions(rng, 3, (n,), dt)], {"s": 3}),
        _bincount,
    ),
    "into a start": Form(
        "S[s, d] = T[s, d]\nS[seg[e], d] += X[e, d]",
        lambda rng, dt, n: (
            [_table(rng, 3, 2), _positions(rng, 3, (n,), dt), _table(rng, n, 2)],
            {},
        ),
        lambda T, seg, X: T + _segment_sum(seg, X, 3),
    ),
    "argmax as a position": Form(
        "a[i] = argmax[j](X[i, j])\nv[i] = X[i, a[i]]\nreturn a, v",
        lambda rng, dt, n: ([np.round(_table(rng, n, 4))], {}),  # rounded: ties
        lambda X: (np.argmax(X, 1), X.max(1)),
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=["int32", "int64"])
@pytest.mark.parametrize("count", [6, 0], ids=["duplicates", "empty"])
@pytest.mark.parametrize("name", FORMS)
def test_form_matches_numpy(name: str, count: int, dtype: Any, backend: str) -> None:
    form = FORMS[name]
    arguments, keywords = form.arguments(np.random.default_rng(0), dtype, count)
    expected = form.reference(*arguments, **keywords)
    found = run(form.source, backend, *arguments, **keywords)
    if isinstance(expected, tuple):
        for one, reference in zip(found, expected, strict=True):
            assert_close(one, reference, f"{name} on {backend}")
    else:
        assert_close(found, expected, f"{name} on {backend}")


def test_argmax_gives_integers_the_first_on_ties_and_nan_as_numpy() -> None:
    X = np.array([[1.0, 3.0, 3.0, 0.0], [np.nan, 2.0, np.nan, 5.0], [2.0, 2.0, 2.0, 2.0]])
    source = "a[i] = argmax[j](X[i, j])\nb[i] = argmin[j](X[i, j])\nreturn a, b"
    for backend in BACKENDS:
        a, b = run(source, backend, X.astype(np.float32))
        np.testing.assert_array_equal(a, np.argmax(X, 1))
        np.testing.assert_array_equal(b, np.argmin(X, 1))
        assert a.dtype.kind == "i" and b.dtype.kind == "i"
        if backend != "jax":  # JAX's default integer: int32 unless 64-bit types are on
            assert a.dtype == np.int64


def test_argmax_of_an_integer_or_boolean_tensor() -> None:
    X = np.array([[1, 5, 5], [0, -2, 7]])
    for backend in BACKENDS:
        np.testing.assert_array_equal(run("a[i] = argmin[j](X[i, j])", backend, X), [0, 1])
        found = run("a[i] = argmax[j](X[i, j] > 2)", backend, X)
        np.testing.assert_array_equal(found, [1, 2])


def test_a_mean_of_positions_is_floating() -> None:
    X = np.array([[1.0, 3.0], [4.0, 0.0], [0.0, 1.0]])
    for backend in BACKENDS:
        m = run("m = mean[i](argmax[j](X[i, j]))", backend, X)
        assert m.dtype.kind == "f" and np.isclose(m, 2 / 3)


@pytest.mark.skipif("torch" not in BACKENDS, reason="PyTorch is not installed")
def test_torch_autograd_flows_through_every_fast_form() -> None:
    """The fast forms are out of place, so torch.autograd differentiates the generated code:
    the gradient of a gather is a scatter-add and that of a scatter-add a gather."""
    import torch

    import tensorc as tc

    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 3))
    ids = np.array([4, 0, 4, 1])
    weights = rng.standard_normal((4, 3))
    for source in ("E[i, d] = W[ids[i], d]", "E[d, i] = W[ids[i], d]"):  # take, transposed
        table = torch.tensor(W, requires_grad=True)
        found = tc.compile(source, backend="torch")(table, torch.tensor(ids))
        g = torch.tensor(weights if found.shape == (4, 3) else weights.T)
        (found * g).sum().backward()
        expected = np.zeros_like(W)
        np.add.at(expected, ids, weights)
        np.testing.assert_allclose(table.grad.numpy(), expected)
    values = torch.tensor(W[:4], requires_grad=True)
    segment_sum = tc.compile("S[s, d] = 0\nS[ids[i], d] += W[i, d]", backend="torch")
    sums = segment_sum(torch.tensor(ids), values, s=5)
    (sums * torch.tensor(W)).sum().backward()
    np.testing.assert_allclose(values.grad.numpy(), W[ids])
    logits = torch.tensor(W * 100, requires_grad=True)
    loss = tc.compile("loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])", backend="torch")
    loss(logits, torch.tensor([2, 0, 1, 1, 2])).backward()
    reference = torch.tensor(W * 100, requires_grad=True)
    torch.nn.functional.cross_entropy(reference, torch.tensor([2, 0, 1, 1, 2])).backward()
    np.testing.assert_allclose(logits.grad.numpy(), reference.grad.numpy())
