"""The generated code of the recognised forms: the kernels chosen by measurement, never a
one-hot matrix nor an array of positions by table rows."""

from __future__ import annotations

import pytest
from gather_support import BACKENDS, body

import tensorc as tc

TAKE = "E[b, t, d] = W[ids[b, t], d]"
PICK = "G[i, j] = X[i, idx[i, j]]"
ROW_PICK = "P[n] = Z[n, y[n]]"
SEGMENT_SUM = "S[s, d] = 0\nS[seg[e], d] += X[e, d]"
NLL = "nll[n] = logsumexp[c](Z[n, c]) - Z[n, y[n]]"
LOSS = "loss = mean[n](logsumexp[c](Z[n, c]) - Z[n, y[n]])"
ONE_HOT = "E[i, d] = where(tok[i] == v, 1.0, 0.0) * W[v, d]"
ONE_HOT_BOOLEAN = "E[i, d] = (tok[i] == v) * W[v, d]"

# What each backend's code must show, in the function and in the whole module.
EXPECTED = {
    "numpy": {
        TAKE: ("np.take(W, _in_range(ids, n_W_0, 'a position in W'), axis=0)", ""),
        PICK: ("np.take_along_axis(X, _in_range(idx, n_X_1, 'a position in X'), axis=1)", ""),
        ROW_PICK: ("np.take_along_axis(Z, _in_range(y, n_Z_1, 'a position in Z')[:, None]", ""),
        SEGMENT_SUM: ("_add_at(", "np.bincount(rows, weights="),
        NLL: ("_logsumexp(Z, 1) - np.take_along_axis(", ""),
    },
    "jax": {
        TAKE: ("jnp.take(W, _clipped(ids, n_W_0, 'a position in W'), axis=0, mode=\"clip\")", ""),
        PICK: ("jnp.take_along_axis(X, _clipped(idx, n_X_1, 'a position in X'), axis=1", ""),
        ROW_PICK: ("jnp.take_along_axis(Z, _clipped(y, n_Z_1, 'a position in Z')[:, None]", ""),
        SEGMENT_SUM: ("_add_at(", '.at[positions].add(values.astype(dtype), mode="drop")'),
        NLL: ("jax.nn.logsumexp(Z, axis=1) - jnp.take_along_axis(", ""),
    },
    "torch": {
        TAKE: ("_take(W, _in_range(ids, n_W_0, 'a position in W'), 0)", "x.index_select(axis"),
        PICK: ("_take_along(X, _in_range(idx, n_X_1, 'a position in X'), 1)", "torch.gather("),
        ROW_PICK: ("_take_along(Z, _in_range(y, n_Z_1, 'a position in Z')[:, None], 1)[:, 0]", ""),
        SEGMENT_SUM: ("_add_at(", "index_put((positions,), values.to(dtype), accumulate=True)"),
        NLL: ("_cross_entropy(Z, _in_range(y, n_c, 'a position in Z'), 1, 'none')", ""),
        LOSS: ("_cross_entropy(Z, _in_range(y, n_c, 'a position in Z'), 1, 'mean')", ""),
    },
}
CASES = [(b, source, *found) for b, forms in EXPECTED.items() for source, found in forms.items()]


@pytest.mark.parametrize(("backend", "source", "call", "helper"), CASES)
def test_recognised_forms_use_the_fast_kernels(
    backend: str, source: str, call: str, helper: str
) -> None:
    assert call in body(source, backend)
    assert helper in tc.compile(source, backend=backend).source


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("source", [ONE_HOT, ONE_HOT_BOOLEAN])
def test_the_one_hot_idiom_becomes_the_gather_it_means(source: str, backend: str) -> None:
    code = body(source, backend)
    assert "_take_or_zero(W, tok, 0)" in code
    assert "==" not in code and "where" not in code and "@" not in code


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("source", [TAKE, PICK, SEGMENT_SUM, NLL, ONE_HOT])
def test_no_positions_by_rows_nor_a_one_hot(source: str, backend: str) -> None:
    """The fast forms index with the positions alone: no arange over an axis is broadcast
    against them (as general indexing does), and no comparison builds a one-hot."""
    code = body(source, backend)
    assert "arange" not in code and "==" not in code
