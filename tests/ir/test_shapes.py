"""Shape inference: `infer_sizes` solves every index size from the arguments' shapes and the
size keywords, and `size_sources` tells generated code where to read each size.

Programs go through `tensorc.compiler.front_end`; shapes are plain tuples, as the runtime
passes them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import front_end
from tensorc.ir.shapes import Sizes, infer_sizes
from tensorc.ir.sources import AxisSize, KeywordSize, size_sources


def sizes(source: str, keywords: dict[str, int] | None = None, **shapes: tuple[int, ...]) -> Sizes:
    return infer_sizes(front_end(source), shapes, keywords or {})


def shape_error(source: str, keywords: dict[str, int] | None = None, **shapes) -> tc.ShapeError:
    with pytest.raises(tc.ShapeError) as caught:
        sizes(source, keywords, **shapes)
    return caught.value


MATMUL = "C[i, k] = A[i, j] * B[j, k]"
BATCHED = "C[..., i, k] = A[..., i, j] * B[..., j, k]"
SPLIT = "X[b, h, n, d] = Y[b, n, (h d)]"


# --- unification ----------------------------------------------------------------------------


def test_sizes_come_from_every_access():
    assert sizes(MATMUL, A=(2, 3), B=(3, 4)) == Sizes({"i": 2, "j": 3, "k": 4})


def test_mismatch_names_the_index_both_tensors_and_both_sizes():
    error = shape_error(MATMUL, A=(2, 3), B=(4, 5))
    assert isinstance(error, ValueError)
    assert error.message == "index 'j' has size 3 in A but size 4 in B"
    assert (error.line, error.column) == (1, 21)
    assert "^" in str(error)


def test_mismatch_within_one_tensor():
    error = shape_error("d[i] = A[i, i]", A=(2, 3))
    assert error.message == "index 'i' has size 2 in A but size 3 in A"


def test_rank_mismatch():
    error = shape_error(MATMUL, A=(2, 3, 4), B=(3, 4))
    assert error.message == "A is indexed with 2 axes but the argument has 3 dimensions"


def test_indices_are_global_across_statements():
    source = "y[i] = A[i, j] * x[j]\nz[k] = B[k, i] * y[i]"
    assert sizes(source, A=(2, 3), x=(3,), B=(5, 2)) == Sizes({"i": 2, "j": 3, "k": 5})
    error = shape_error(source, A=(2, 3), x=(3,), B=(5, 7))
    assert error.message == "index 'i' has size 2 in A but size 7 in B"
    assert error.line == 2


def test_sizes_flow_through_earlier_targets():
    # Only A and x are inputs: B's shape is known from A's.
    source = "B[j, i] = A[i, j]\nC[i] = B[j, i] * x[j]"
    assert sizes(source, A=(2, 3), x=(3,)) == Sizes({"i": 2, "j": 3})
    assert shape_error(source, A=(2, 3), x=(4,)).message == (
        "index 'j' has size 3 in A but size 4 in x"
    )


def test_scalar_inputs_have_no_axes():
    assert sizes("Y[i] = alpha * X[i]", alpha=(), X=(5,)) == Sizes({"i": 5})


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=4, max_size=4))
def test_chain_sizes_are_read_back(dims):
    i, j, k, m = dims
    found = sizes("D[i, m] = A[i, j] * B[j, k] * C[k, m]", A=(i, j), B=(j, k), C=(k, m))
    assert found.of == {"i": i, "j": j, "k": k, "m": m}
    assert found.shape(("m", "i")) == (m, i)


# --- the ellipsis ---------------------------------------------------------------------------


def test_ellipsis_broadcasts_size_one_dimensions():
    found = sizes(BATCHED, A=(1, 3, 2, 3), B=(5, 1, 3, 4))
    assert found == Sizes({"i": 2, "j": 3, "k": 4}, ellipsis=(5, 3))
    assert found.shape(("...", "k", "i")) == (5, 3, 4, 2)


def test_ellipsis_of_different_ranks_aligns_on_the_right():
    assert sizes(BATCHED, A=(2, 3), B=(7, 3, 4)).ellipsis == (7,)
    assert sizes(BATCHED, A=(6, 1, 2, 3), B=(7, 3, 4)).ellipsis == (6, 7)


def test_ellipsis_may_be_empty():
    assert sizes(BATCHED, A=(2, 3), B=(3, 4)) == Sizes({"i": 2, "j": 3, "k": 4}, ellipsis=())


def test_ellipsis_that_does_not_broadcast():
    error = shape_error(BATCHED, A=(2, 2, 3), B=(3, 3, 4))
    assert error.message == "the '...' dimensions (2,) of A and (3,) of B do not broadcast"


def test_ellipsis_needs_at_least_the_named_axes():
    error = shape_error(BATCHED, A=(3,), B=(3, 4))
    assert error.message == "A is indexed with at least 2 axes but the argument has 1 dimensions"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([1, 2, 3]), max_size=3),
    st.lists(st.sampled_from([1, 2, 3]), max_size=3),
)
def test_ellipsis_follows_numpy_broadcasting(batch_a, batch_b):
    a, b = (*batch_a, 2, 3), (*batch_b, 3, 4)
    try:
        expected = np.broadcast_shapes(tuple(batch_a), tuple(batch_b))
    except ValueError:
        with pytest.raises(tc.ShapeError, match="do not broadcast"):
            sizes(BATCHED, A=a, B=b)
    else:
        assert sizes(BATCHED, A=a, B=b).ellipsis == expected


@pytest.mark.parametrize("op", ["max", "mean"])
def test_reduction_of_an_ellipsis_operand(op):
    # Once a bug: a Reduce operand's '...' was taken for an index whose size was unknown.
    assert sizes(f"m[...] = {op}[j](A[..., j])", A=(2, 3)) == Sizes({"j": 3}, ellipsis=(2,))


def test_reduction_of_an_ellipsis_operand_needs_no_keyword():
    program = front_end("m[...] = max[j](A[..., j])")
    assert program.size_params == ()
    assert size_sources(program) == {"j": AxisSize("A", -1)}


# --- composed axes --------------------------------------------------------------------------


def test_merge_reads_both_factors_off_the_input():
    found = sizes("Y[b, n, (h d)] = X[b, h, n, d]", X=(2, 3, 4, 5))
    assert found == Sizes({"b": 2, "h": 3, "n": 4, "d": 5})
    assert found.axis("(h d)") == 15
    assert found.shape(("b", "n", "(h d)")) == (2, 4, 15)


def test_split_solves_the_other_factor_from_a_keyword():
    assert sizes(SPLIT, {"h": 3}, Y=(2, 5, 12)) == Sizes({"h": 3, "b": 2, "n": 5, "d": 4})
    assert sizes(SPLIT, {"d": 4}, Y=(2, 5, 12)).of == {"h": 3, "b": 2, "n": 5, "d": 4}
    error = shape_error(SPLIT, {"h": 3, "d": 5}, Y=(2, 5, 12))
    assert error.message == "axis (h d) of Y has size 12 but h=3 * d=5 is 15"


def test_split_of_three_factors_needs_two_keywords():
    source = "X[a, b, c] = Y[(a b c)]"
    assert sizes(source, {"a": 2, "b": 3}, Y=(24,)).of == {"a": 2, "b": 3, "c": 4}
    assert sizes(source, {"b": 3, "c": 4}, Y=(24,)).of == {"a": 2, "b": 3, "c": 4}
    error = shape_error(source, {"a": 2}, Y=(24,))
    assert error.message == (
        "the size of index 'b' cannot be inferred: pass it by keyword, e.g. b=..."
    )


def test_composed_axis_that_is_not_divisible():
    error = shape_error(SPLIT, {"h": 3}, Y=(2, 5, 10))
    assert error.message == "axis (h d) of Y has size 10, which is not divisible by h=3"


def test_composed_axis_whose_factors_are_known_must_match():
    error = shape_error("Z[h, d] = Y[(h d)] + W[h, d]", Y=(10,), W=(2, 4))
    assert error.message == "axis (h d) of Y has size 10 but h=2 * d=4 is 8"


def test_composed_axis_solved_from_another_input():
    found = sizes("Z[h, d] = Y[(h d)] * W[h]", Y=(12,), W=(4,))
    assert found.of == {"h": 4, "d": 3}


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_split_then_merge_round_trip_sizes(b, h, n, d):
    source = "X[b, h, n, d] = Y[b, n, (h d)]\nZ[b, n, (d h)] = X[b, h, n, d]"
    found = sizes(source, {"h": h}, Y=(b, n, h * d))
    assert found.of == {"b": b, "h": h, "n": n, "d": d}
    assert found.shape(("b", "n", "(d h)")) == (b, n, d * h)


# --- keywords -------------------------------------------------------------------------------


def test_keyword_for_an_inferable_index_must_agree():
    assert sizes(MATMUL, {"j": 3}, A=(2, 3), B=(3, 4)).of["j"] == 3
    error = shape_error("X[h, d] = Y[h, d]", {"h": 8}, Y=(3, 4))
    assert error.message == "index 'h' has size 8 from the keyword h=8 but size 3 in Y"


def test_unknown_keyword():
    error = shape_error(MATMUL, {"q": 3}, A=(2, 3), B=(3, 4))
    assert error.message == "unknown keyword argument 'q': it is not an index"


def test_size_that_cannot_be_inferred():
    error = shape_error("y[i, j] = x[i]", x=(3,))
    assert error.message == (
        "the size of index 'j' cannot be inferred: pass it by keyword, e.g. j=..."
    )
    assert error.line == 1
    assert sizes("y[i, j] = x[i]", {"j": 4}, x=(3,)).of == {"i": 3, "j": 4}


def test_split_without_its_keyword_cannot_be_inferred():
    error = shape_error(SPLIT, Y=(2, 5, 12))
    assert "the size of index 'h' cannot be inferred" in error.message


# --- where generated code finds each size ---------------------------------------------------


def test_size_sources_read_input_axes():
    assert size_sources(front_end(MATMUL)) == {
        "i": AxisSize("A", 0),
        "j": AxisSize("A", 1),
        "k": AxisSize("B", 1),
    }


def test_size_sources_after_an_ellipsis_count_from_the_end():
    sources = size_sources(front_end(BATCHED))
    assert sources == {"i": AxisSize("A", -2), "j": AxisSize("A", -1), "k": AxisSize("B", -1)}


def test_size_sources_of_a_split_are_keywords_with_a_fallback():
    """Either factor of (h d) may be passed; the one left out is the axis divided by it."""
    sources = size_sources(front_end(SPLIT))
    assert sources == {
        "b": AxisSize("Y", 0),
        "n": AxisSize("Y", 1),
        "h": KeywordSize("h", fallback=AxisSize("Y", 2, divide_by=("d",))),
        "d": KeywordSize("d", fallback=AxisSize("Y", 2, divide_by=("h",))),
    }


def test_size_sources_of_three_factors():
    sources = size_sources(front_end("X[a, b, c] = Y[(a b c)]"))
    assert sources == {
        "a": KeywordSize("a", fallback=AxisSize("Y", 0, divide_by=("b", "c"))),
        "b": KeywordSize("b", fallback=AxisSize("Y", 0, divide_by=("a", "c"))),
        "c": KeywordSize("c", fallback=AxisSize("Y", 0, divide_by=("a", "b"))),
    }


def test_split_with_one_factor_known_from_another_input_is_not_a_keyword():
    sources = size_sources(front_end("X[h, d] = Y[(h d)] * W[h]"))
    assert sources == {"h": AxisSize("W", 0), "d": AxisSize("Y", 0, divide_by=("h",))}


def test_size_sources_skip_earlier_targets_and_find_later_inputs():
    sources = size_sources(front_end("t[i] = x[i] * 2\nu[i, j] = t[i] * w[j]"))
    assert sources == {"i": AxisSize("x", 0), "j": AxisSize("w", 0)}


def test_index_only_on_the_left_is_a_keyword():
    assert size_sources(front_end("y[i, j] = x[i]"))["j"] == KeywordSize("j")


def test_keyword_sizes_are_the_generated_signature():
    f = tc.compile(SPLIT, backend="numpy")
    assert "def program(Y, *, h=None, d=None):" in f.source
    assert "d = Y.shape[2] // h" in f.source
    y = np.arange(2 * 5 * 12.0).reshape(2, 5, 12)
    expected = y.reshape(2, 5, 3, 4).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(f(y, h=3), expected)
    np.testing.assert_array_equal(f(y, d=4), expected)
    source_only = {}
    exec(f.source, source_only)  # the module alone, called with either keyword
    np.testing.assert_array_equal(source_only["program"](y, d=4), expected)


# --- issue 8: sizes no array can have, and an index only on the left ------------------------


@pytest.mark.parametrize("size", [2**59 + 1, 2**62, 2**63, 10**30])
def test_an_index_size_no_array_can_have_is_a_shape_error(size):
    error = shape_error("Y[i, n] = A[i] + 0 * n", {"n": size}, A=(2,))
    assert error.message == (
        f"index 'n' has size {size} from the keyword n={size}: no array can have an axis of "
        f"more than 2**59 = {2**59} elements"
    )


def test_an_array_no_backend_can_hold_is_a_shape_error():
    error = shape_error("Y[i, n] = A[i] + 0 * n", {"n": 2**58}, A=(4,))
    assert error.message.startswith(f"an array over [i, n] in Y would have 4 x {2**58} = ")
    assert error.line == 1
    assert sizes("Y[i, n] = A[i] + 0 * n", {"n": 2**57}, A=(4,)).of["n"] == 2**57


def test_an_index_only_on_the_left_beside_a_similar_summed_one_is_named():
    with pytest.warns(tc.TensorcWarning, match="index 'k' appears only once"):  # compiling
        error = shape_error("C[i, kk] = A[i, j] * B[j, k]", A=(2, 3), B=(3, 4))
    assert error.message == (
        "index 'kk' appears only on the left of C, so nothing gives its size: did you mean "
        "'k'? ('k' is summed, as the left lacks it) To broadcast along a new index, pass its "
        "size by keyword, e.g. kk=..."
    )


def test_sizes_known_so_far_for_inputs_left_out():
    assert infer_sizes(front_end(MATMUL), {"A": (2, 3)}, {"k": 4}, complete=False).of == {
        "i": 2,
        "j": 3,
        "k": 4,
    }
    assert infer_sizes(front_end(MATMUL), {"A": (2, 3)}, {}, complete=False).of == {"i": 2, "j": 3}
