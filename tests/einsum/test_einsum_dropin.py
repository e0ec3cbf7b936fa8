"""`tc.einsum` as a drop-in for numpy.einsum (issue 8, "einsum conformance", items 1-7).

Each test names the item it covers; each failed before that item was done. The conformance
suites next to this file cover the upstream einsum test suites case by case.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc.einsum import passes_with, planner
from tensorc.errors import ArgumentTypeError, PathError
from tensorc.runtime import compile_program

RNG = np.random.default_rng(8)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def same(got, want) -> None:
    """Same values, shape and dtype, and a NumPy array (0-d for a scalar)."""
    assert isinstance(got, np.ndarray), type(got)
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# --- 1. a labelled axis of size 1 broadcasts ------------------------------------------------------

BROADCASTING = [
    ("ij,ij->j", [(10, 2), (1, 2)]),
    ("cij,cjk->cik", [(3, 4, 5), (3, 1, 6)]),
    ("cij,cjk->cik", [(1, 4, 5), (3, 1, 6)]),
    ("ijk,kl,jl,i->i", [(1, 5, 4), (4, 6), (5, 6), (10,)]),
    ("abjk,kl,jl,ab->ab", [(1, 1, 5, 4), (4, 6), (5, 6), (7, 7)]),
    ("i,i", [(2,), (1,)]),  # a summed axis of size 1 against one of size 2
    ("ij,jk", [(2, 1), (3, 4)]),
    ("ijp,ipq,ikq->ijk", [(3, 1, 1), (3, 1, 3), (1, 3, 3)]),
    ("cacc,bcb->", [(1, 1, 1, 1), (1, 4, 1)]),
    ("i,j", [(1,), (2,)]),
]


@pytest.mark.parametrize(("spec", "shapes"), BROADCASTING)
def test_item1_a_labelled_axis_of_size_one_broadcasts(spec, shapes):
    operands = [rand(*shape) for shape in shapes]
    same(tc.einsum(spec, *operands), np.einsum(spec, *operands))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_item1_size_one_broadcasts_on_every_backend(backend):
    a, b = rand(3, 4, 5).astype(np.float32), rand(3, 1, 6).astype(np.float32)
    convert, reference = (
        (jnp.asarray, jnp.einsum) if backend == "jax" else (torch.tensor, torch.einsum)
    )
    got = tc.einsum("cij,cjk->cik", convert(a), convert(b))
    want = reference("cij,cjk->cik", convert(a), convert(b))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5)


def test_item1_programs_keep_their_strict_sizes():
    with pytest.raises(tc.ShapeError, match="index 'i'"):
        tc.compile("C[j] = A[i, j] * B[i, j]")(rand(10, 2), rand(1, 2))


def test_item1_a_repeated_index_of_one_operand_must_still_agree():
    with pytest.raises(tc.ShapeError):  # numpy: "dimensions ... for collapsing index don't match"
        tc.einsum("ii", rand(1, 3))


# --- 2. result dtypes as numpy.einsum ---------------------------------------------------------------


def test_item2_int8_sums_stay_int8_and_wrap():
    a = np.arange(2 * 3 * 5, dtype=np.int8).reshape(2, 3, 5)
    got = tc.einsum("...i->...", a)
    same(got, np.einsum("...i->...", a))
    assert got[1, 2] == -121


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "u2", "i4", "u4", "f2", "f4", "c8"])
def test_item2_sums_and_products_keep_the_dtype(dtype):
    a = (np.arange(12) % 7).astype(dtype).reshape(3, 4)
    b = (np.arange(20) % 5).astype(dtype).reshape(4, 5)
    for spec, operands in [("ij->", [a]), ("ij->j", [a]), ("ij,jk", [a, b]), ("ij,ij->i", [a, a])]:
        got, want = tc.einsum(spec, *operands), np.einsum(spec, *operands)
        assert got.dtype == want.dtype, (spec, got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-3)


@pytest.mark.parametrize("spec", ["ii", "ij->", "ij,jk", "ij,ij->", "i,i,i->i"])
def test_item2_booleans_stay_booleans(spec):
    m = np.array([[True, False], [False, True]])
    operands = [m if len(term) == 2 else m[0] for term in spec.split("->")[0].split(",")]
    got = tc.einsum(spec, *operands)
    same(got, np.einsum(spec, *operands))
    if spec in ("ii", "ij->"):
        assert got.dtype == np.bool_ and bool(got) is True


def test_item2_jax_keeps_the_operand_dtype_as_jnp_einsum_does():
    a = jnp.asarray(np.arange(2 * 3 * 5, dtype=np.int8).reshape(2, 3, 5))
    got = tc.einsum("...i->...", a)
    assert got.dtype == jnp.einsum("...i->...", a).dtype == jnp.int8
    m = jnp.eye(2, dtype=bool)
    assert tc.einsum("ii", m).dtype == jnp.einsum("ii", m).dtype == jnp.bool_


# --- 3. lists and numbers as operands; a 0-d result is an array --------------------------------------


def test_item3_lists_and_numbers_are_operands():
    same(tc.einsum("...i,...i", [1, 2, 3], [2, 3, 4]), np.einsum("...i,...i", [1, 2, 3], [2, 3, 4]))
    a = np.arange(9, dtype=np.float32)
    same(tc.einsum(",i->", 3, a), np.einsum(",i->", 3, a))
    same(tc.einsum("i,->i", a, 2.5), np.einsum("i,->i", a, 2.5))
    same(tc.einsum("..., ...", 3, 4), np.einsum("..., ...", 3, 4))


@pytest.mark.parametrize(
    ("backend", "kind"),
    [("numpy", np.ndarray), ("jax", jax.Array), ("torch", torch.Tensor)],
)
def test_item3_a_scalar_result_is_a_zero_d_array_of_the_backend(backend, kind):
    for spec, operands in [
        ("i->", [[1.0, 2.0]]),
        ("ij,ij->", [np.ones((2, 2))] * 2),
        (",", [2, 3]),
    ]:
        got = tc.einsum(spec, *operands, backend=backend)
        assert isinstance(got, kind) and tuple(got.shape) == (), (spec, type(got))


def test_item3_a_list_joins_the_framework_of_the_other_operands():
    t = torch.arange(3.0)
    got = tc.einsum("i,i->", t, [1.0, 2.0, 3.0])
    assert isinstance(got, torch.Tensor) and float(got) == 8.0
    got = tc.einsum("i,i->", jnp.arange(3.0), [1.0, 2.0, 3.0])
    assert isinstance(got, jax.Array) and float(got) == 8.0


def test_item3_a_list_goes_to_the_device_of_the_other_tensors():
    got = tc.einsum("i,i->i", torch.ones(3, device="meta"), [1.0, 2.0, 3.0])
    assert got.device.type == "meta" and tuple(got.shape) == (3,)


def test_item3_arrays_of_another_framework_join_the_backend_named():
    for _ in range(2):  # the second call takes the fast path
        got = tc.einsum("ij->", torch.ones(2, 2), backend="numpy")
        assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got == 4.0
        got = tc.einsum("ij,j->i", np.ones((2, 2)), jnp.ones(2), backend="torch")
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float64


# --- 4. an ellipsis may cover no axes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "shape"),
    [
        ("...ijk->ki", (3, 4, 5)),
        ("...->", ()),
        ("z...->z", (3,)),
        ("...i->i", (3,)),
        ("...a->", (1,)),
    ],
)
def test_item4_an_ellipsis_may_cover_no_axes(spec, shape):
    a = rand(*shape)
    same(tc.einsum(spec, a), np.einsum(spec, a))


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [("...i->i", [(2, 3)]), ("...a->", [(2, 1)]), ("i...->i", [(3, 3, 3)]), ("j..., i...->j", [(3, 3, 3)] * 2),
     ("ij..., i...->i", [(3, 4, 2), (3, 5, 2)]), ("...ij,...j->i", [(2, 1, 3, 3), (4, 3)])],
)  # fmt: skip
def test_item4_the_axes_of_an_ellipsis_the_output_leaves_out_are_summed(spec, shapes):
    """As numpy's optimize=True path (and numpy >= 2.5 always), torch, JAX and opt_einsum do."""
    operands = [rand(*shape) for shape in shapes]
    same(tc.einsum(spec, *operands), np.einsum(spec, *operands, optimize=True))
    got = tc.einsum(spec, *map(torch.tensor, operands))
    np.testing.assert_allclose(got, torch.einsum(spec, *map(torch.tensor, operands)))


def test_item4_an_ellipsis_still_needs_the_letters_axes():
    with pytest.raises(tc.ShapeError, match="name at least 2"):
        tc.einsum("...ij->i", rand(3))


# --- 5. error types and wording -----------------------------------------------------------------------

NUMPY_SYNTAX_ERRORS = [
    "i..", ".i...", "j->..j", "j->.j...", "i%...", "...j$", "i->&", "i->ij", "ij->jij",
    "->,->", "&,a->", "a,a->&", "......", "i->i->i",
]  # fmt: skip


@pytest.mark.parametrize("spec", NUMPY_SYNTAX_ERRORS)
def test_item5_every_refused_subscripts_text_is_a_value_error(spec):
    with pytest.raises(tc.TensorcError) as info:
        tc.einsum(spec, rand(2, 2))
    assert isinstance(info.value, ValueError)


def test_item5_parse_errors_are_value_errors():
    assert issubclass(tc.ParseError, ValueError) and issubclass(tc.TensorcError, ValueError)
    with pytest.raises(ValueError):
        tc.compile("C[i = A[i]")


def test_item5_syntax_messages_name_no_grammar_internals():
    with pytest.raises(tc.ParseError) as info:
        tc.einsum("ij-", rand(2, 2))
    assert "anon" not in info.value.message.lower()
    assert "'->'" in info.value.message


@pytest.mark.parametrize(
    "arguments",
    [("i", "abc"), ("i", None), ("i", {"a": 1}), (0, 0), (None,) * 63, ("i,i", [1, 2], object())],
)
def test_item5_operands_of_the_wrong_type_are_type_errors(arguments):
    with pytest.raises(TypeError) as info:
        tc.einsum(*arguments)
    assert isinstance(info.value, tc.TensorcError)


def test_item5_no_arguments_is_a_value_error():
    with pytest.raises(tc.TensorcError) as info:
        tc.einsum()
    assert isinstance(info.value, ValueError)


def test_item5_one_operand_is_one_operand():
    with pytest.raises(tc.ShapeError) as info:
        tc.einsum("i,i", rand(3))
    assert info.value.message == "einsum got 1 operand but the subscripts name 2"


# --- 6. optimize=, sublists, out=, dtype=, einsum_path ------------------------------------------------

CHAIN = ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)])


@pytest.mark.parametrize(
    "optimize",
    [False, True, None, "greedy", "optimal", "dp", "auto", ("greedy", 0), ("optimal", 100),
     ["einsum_path", (1, 2), (0, 1)], [(0, 1), (0, 1)], ["einsum_path", (0, 1, 2)]],
)  # fmt: skip
def test_item6_optimize_takes_what_numpy_and_opt_einsum_take(optimize):
    spec, shapes = CHAIN
    operands = [rand(*shape) for shape in shapes]
    same(tc.einsum(spec, *operands, optimize=optimize), np.einsum(spec, *operands))


def test_item6_an_explicit_path_is_the_order_of_contraction():
    spec, shapes = CHAIN
    operands = [rand(*shape) for shape in shapes]

    def planned(optimize) -> str:
        program = compile_program(spec, None, passes_with(planner(optimize)), True)
        return program.ir_for(*operands).splitlines()[-2]

    assert "matmul(x1[j, k], x2[k, l])" in planned(["einsum_path", (1, 2), (0, 1)])
    assert "matmul(x0[i, j], x1[j, k])" in planned([(0, 1), (0, 1)])


def test_item6_optimize_errors():
    spec, shapes = CHAIN
    operands = [rand(*shape) for shape in shapes]
    with pytest.raises(tc.TensorcError, match="unknown optimize"):
        tc.einsum(spec, *operands, optimize="fastest")
    with pytest.raises(RuntimeError) as info:  # numpy raises RuntimeError for a bad path
        tc.einsum(spec, *operands, optimize=["einsum_path", (0, 1)])
    assert isinstance(info.value, PathError)
    with pytest.raises(PathError):
        tc.einsum_path(spec, *operands, optimize=["einsum_path", (0, 3), (0, 1)])


def test_item6_einsum_path_refuses_what_einsum_refuses():
    with pytest.raises(tc.ShapeError, match="operand 0"):
        tc.einsum_path("αβ", rand(3))  # opt_einsum plans Unicode subscripts: checked first
    with pytest.raises(tc.ShapeError, match="index 'j'"):
        tc.einsum_path("ij,jk", rand(2, 3), rand(4, 5))
    with pytest.raises(tc.TensorcError, match="unknown backend"):
        tc.einsum("ij", rand(2, 2), backend="nope")


def test_item6_memory_limits_as_numpy_takes_them():
    spec, shapes = CHAIN
    operands = [rand(*shape) for shape in shapes]
    for optimize in [("greedy", float("inf")), ("dp", -1), ("optimal", 2)]:
        same(tc.einsum(spec, *operands, optimize=optimize), np.einsum(spec, *operands))
    assert tc.einsum_path("αβ,βγ", rand(2, 3), rand(3, 4), optimize=("dp", -1))[0] == [
        "einsum_path",
        (0, 1),
    ]


SUBLISTS = [
    ((2, 3), [0, 1], (3, 4), [1, 2], [0, 2]),
    ((2, 3), [0, 1], (3, 4), [1, 2]),
    ((3, 3), [0, 0]),
    ((3, 3), [0, 0], [0]),
    ((2, 3, 3), [Ellipsis, 0, 0], [Ellipsis, 0]),
    ((4, 2, 3), [Ellipsis, 0], [Ellipsis]),
    ((3, 5), [0, 20], (5, 4), [20, 51], [0, 51]),
]


@pytest.mark.parametrize("arguments", SUBLISTS)
def test_item6_the_sublist_form(arguments):
    arguments = [rand(*a) if isinstance(a, tuple) else a for a in arguments]
    same(tc.einsum(*arguments), np.einsum(*arguments))


def test_item6_sublist_errors_as_numpy():
    a = rand(2, 3)
    with pytest.raises(tc.TensorcError) as info:
        tc.einsum(a, [0, 52])
    assert isinstance(info.value, ValueError)
    with pytest.raises(ArgumentTypeError):
        tc.einsum(a, [0, "a"])
    same(tc.einsum(rand(3, 3) * 0 + 1, np.asarray([0, 0])), 3.0)  # numpy ints as labels


def test_item6_out_writes_into_the_buffer_and_returns_it():
    a, b = rand(3, 4), rand(4, 5)
    out = np.empty((3, 5))
    assert tc.einsum("ij,jk", a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b)
    c = np.arange(3, dtype=np.int64)
    tc.einsum("ij,j", a, b[:, 0], out=c, dtype="f8", casting="unsafe")
    np.testing.assert_array_equal(c, (a @ b[:, 0]).astype(np.int64))


def test_item6_dtype_computes_in_that_dtype():
    a = np.arange(6).reshape(2, 3)
    same(tc.einsum("ij->i", a, dtype=np.float64), np.einsum("ij->i", a, dtype=np.float64))
    same(
        tc.einsum("i,i->", a[0], a[1], dtype="?", casting="unsafe"),
        np.einsum("i,i->", a[0], a[1], dtype="?", casting="unsafe"),
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"out": "test"}, TypeError),
        ({"order": "W"}, ValueError),
        ({"casting": "blah"}, ValueError),
        ({"dtype": "bad_data_type"}, TypeError),
        ({"dtype": np.float32}, TypeError),  # int64 -> float32 is not a safe cast
        ({"out": np.empty((2, 2))}, ValueError),  # the wrong shape
        ({"out": np.empty(3, np.int8)}, TypeError),  # int64 -> int8 is not a safe cast
    ],
)
def test_item6_numpy_options_are_checked_as_numpy_checks_them(options, error):
    with pytest.raises(error) as info:
        tc.einsum("i->i", np.arange(3), **options)
    assert isinstance(info.value, tc.TensorcError)


def test_item6_out_and_dtype_are_for_the_numpy_backend():
    with pytest.raises(tc.TensorcError, match="NumPy backend only"):
        tc.einsum("i->i", torch.ones(3), dtype="f8")


@pytest.mark.parametrize(
    ("spec", "shapes", "optimize"),
    [
        ("ij,jk,kl->il", [(2, 2), (2, 5), (5, 2)], "greedy"),
        ("ea,fb,abcd,gc,hd->efgh", [(10, 10), (10, 10), (10, 10, 10, 10), (10, 10), (10, 10)], "greedy"),
        ("dcc,fce,ea,dbf->ab", [(4, 2, 2), (3, 2, 4), (4, 5), (4, 3, 3)], "optimal"),
        ("dcc,fce,ea,dbf->ab", [(4, 2, 2), (3, 2, 4), (4, 5), (4, 3, 3)], ["einsum_path", (0, 2), (0, 2), (0, 1)]),
        ("a,b,c->abc", [(2,), (3,), (4,)], ("greedy", 0)),
        ("ij,ij->j", [(10, 2), (1, 2)], False),
    ],
)  # fmt: skip
def test_item6_einsum_path_is_numpy_einsum_path(spec, shapes, optimize):
    operands = [rand(*shape) for shape in shapes]
    path, report = tc.einsum_path(spec, *operands, optimize=optimize)
    want_path, want_report = np.einsum_path(spec, *operands, optimize=optimize)
    assert path == want_path and report == want_report


# --- 7. any Unicode letter is an index ----------------------------------------------------------------


def test_item7_greek_letters_are_indices():
    a, b = rand(2, 3), rand(3, 4)
    same(tc.einsum("αβ,βγ->αγ", a, b), a @ b)
    same(tc.einsum("αβ,βγ", a, b), a @ b)  # implicit output: code point order
    path, report = tc.einsum_path("αβ,βγ,γδ->αδ", a, b, rand(4, 2))
    assert path[0] == "einsum_path" and "αβ" in report


def test_item7_more_than_52_indices():
    letters = [chr(0x3B1 + k) for k in range(25)] + [chr(ord("a") + k) for k in range(26)]
    letters += [chr(0x410 + k) for k in range(15)]  # and Cyrillic: 66 indices in all
    vectors = [np.full(2, 1.0 + k / 100) for k in range(len(letters))]
    got = tc.einsum(",".join(letters) + "->", *vectors)
    np.testing.assert_allclose(got, np.prod([v.sum() for v in vectors]))


def test_item7_letters_that_python_folds_together_stay_apart():
    """'ℌ' is read by Python as 'H' in a name: generated code must not merge their sizes."""
    a, b = rand(2, 3, 4), rand(4, 5, 3)
    program = compile_program("ℌHa,abH->ℌb", None, tc.PASSES, True)
    namespace: dict = {}
    exec(program.source, namespace)
    np.testing.assert_allclose(namespace["program"](a, b), np.einsum("xHa,abH->xb", a, b))


def test_item7_only_letters_are_indices():
    with pytest.raises(tc.ParseError, match="not a letter"):
        tc.einsum("i²", rand(2, 2))
