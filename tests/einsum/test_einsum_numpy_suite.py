"""Conformance with numpy's own einsum suite (numpy/_core/tests/test_einsum.py): the same
cases, each call compared with np.einsum (values, shape and dtype; a 0-d result is a 0-d
array). Written for tensorc; where tensorc answers differently on purpose, docs/einsum.md
says so and the case is not here."""

from __future__ import annotations

import numpy as np
import pytest
from einsum_support import CONTRACTIONS, RNG, SIZES, operands_for, same_as_numpy

import tensorc as tc

# --- errors: refused as numpy refuses them, with an error that is also numpy's type --------------

VALUE_ERRORS = [
    (),
    ("",),
    ("", 0, 0),
    (",", 0, [0], [0]),
    (",", [0]),
    ("i", 0),
    ("ij", [0, 0]),
    ("...i", 0),
    ("i...j", [0, 0]),
    ("i...", 0),
    ("ij...", [0, 0]),
    ("i..", [0, 0]),
    (".i...", [0, 0]),
    ("j->..j", [0, 0]),
    ("j->.j...", [0, 0]),
    ("i%...", [0, 0]),
    ("...j$", [0, 0]),
    ("i->&", [0, 0]),
    ("i->ij", [0, 0]),
    ("ij->jij", [[0, 0], [0, 0]]),
    ("ii", np.arange(6).reshape(2, 3)),
    ("ii->i", np.arange(6).reshape(2, 3)),
    ("i", np.arange(6).reshape(2, 3)),
]
TYPE_ERRORS = [(0, 0), (None,) * 63]


@pytest.mark.parametrize("optimize", [True, False])
@pytest.mark.parametrize("function", [tc.einsum, tc.einsum_path])
def test_errors(function, optimize):
    for arguments in VALUE_ERRORS:
        with pytest.raises(ValueError):
            function(*arguments, optimize=optimize)
    for arguments in TYPE_ERRORS:
        with pytest.raises(TypeError):
            function(*arguments, optimize=optimize)
    with pytest.raises(ValueError, match="'b'"):
        function("aabcb,abc", np.ones((3, 3, 4, 5, 6)), np.ones((3, 4, 5)), optimize=optimize)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"out": "test"}, TypeError),
        ({"order": "W"}, ValueError),
        ({"casting": "blah"}, ValueError),
        ({"casting": "same_value"}, ValueError),
        ({"dtype": "bad_data_type"}, TypeError),
    ],
)
def test_specific_errors(options, error):
    with pytest.raises(error):
        tc.einsum("", 0, **options)
    with pytest.raises(ValueError):
        tc.einsum("i->i", [[0, 1], [0, 1]], out=np.arange(4).reshape(2, 2))
    with pytest.raises(ValueError):
        tc.einsum("i->i", np.arange(6).reshape(-1, 1), order="d")


def test_subscript_range_of_sublists():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    for label in (20, 27, 51):
        same_as_numpy(a, [0, label], b, [label, 2], [0, 2], optimize=False)
    for bad in (52, -1):
        with pytest.raises(ValueError):
            tc.einsum(a, [0, bad], b, [bad, 2], [0, 2], optimize=False)


@pytest.mark.parametrize("count", [26, 27])
def test_sublist_letters_sort_uppercase_first(count):
    x = np.ones((1,) * count)
    report = tc.einsum_path(x, range(count))[1]
    assert report == np.einsum_path(x, range(count))[1]
    output = report.split("->")[-1].split()[0]
    assert output == "".join(sorted(output))


# --- views: what numpy returns as a view of the operand, tensorc does too ------------------------

VIEWS = [
    ("...", (2, 3)), ("ij", (2, 3)), ("ji", (2, 3)), ("ii->i", (3, 3)), ("...ii->...i", (3, 3, 3)),
    ("ii...->...i", (3, 3, 3)), ("...ii->i...", (3, 3, 3)), ("jii->ij", (3, 3, 3)),
    ("ii...->i...", (3, 3, 3)), ("i...i->i...", (3, 3, 3)), ("i...i->...i", (3, 3, 3)),
    ("iii->i", (3, 3, 3)), ("ijk->jik", (2, 3, 4)),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "shape"), VIEWS)
def test_views(spec, shape):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    b = same_as_numpy(spec, a)
    assert b.base is a.base


# --- sums: numpy's check_einsum_sums, over every dtype numpy's einsum sums --------------------------

DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", np.longdouble,
          "c8", "c16", np.clongdouble, "object"]  # fmt: skip
LENGTHS = [1, 2, 7, 16]


def arange(n: int, dtype, *shape: int) -> np.ndarray:
    return np.arange(n, dtype=dtype).reshape(shape or (n,))


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sums(dtype, optimize):
    check = lambda *arguments, **options: same_as_numpy(*arguments, optimize=optimize, **options)  # noqa: E731
    for n in LENGTHS:
        a = arange(n, dtype)
        check("i->", a)
        check(a, [0], [])
        b = arange(2 * 3 * n, dtype, 2, 3, n)
        check("...i->...", b)
        check(b, [Ellipsis, 0], [Ellipsis])
        check("i...->...", b)
        check(b, [0, Ellipsis], [Ellipsis])
        check("i...->...", arange(2 * n, dtype, 2, n))
        square = arange(n * n, dtype, n, n)
        check("ii", square)
        check(square, [0, 0])
        check(square, np.asarray([0, 0]))
        check("..., ...", arange(3 * n, dtype, 3, n), b)
        check(arange(3 * n, dtype, 3, n), [Ellipsis], b, [Ellipsis])
        check("...i, ...i", b, a)
        check(b, [Ellipsis, 0], a, [Ellipsis, 0])
        check("i..., i...", arange(n * 6, dtype, n, 3, 2), a)
        check("i,j", arange(3, dtype) + 1, a + 1)
        check(arange(3, dtype) + 1, [0], a + 1, [1])
    check("..., ...", 3, 4)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_products(dtype):
    for n in LENGTHS:
        a, b = arange(4 * n, dtype, 4, n), arange(n, dtype)
        same_as_numpy("ij, j", a, b)
        same_as_numpy(a, [0, 1], b, [1])
        same_as_numpy("ji,j", a.T, b.T)
        matrix = arange(n * 6, dtype, n, 6)
        same_as_numpy("ij,jk", a, matrix)
        same_as_numpy(a, [0, 1], matrix, [1, 2])
        for spec, operands, shape in [
            ("ij,j", (a, b), (4,)),
            ("ij,jk", (a, matrix), (4, 6)),
        ]:
            out = np.zeros(shape, dtype=dtype)
            result = tc.einsum(spec, *operands, out=out, dtype="f8", casting="unsafe")
            want = np.zeros(shape, dtype=dtype)
            np.einsum(spec, *operands, out=want, dtype="f8", casting="unsafe")
            assert result is out
            np.testing.assert_array_equal(out, want)
    a, b, c = arange(12, dtype, 3, 4), arange(20, dtype, 4, 5), arange(30, dtype, 5, 6)
    if np.dtype(dtype) != np.float16:
        same_as_numpy("ij,jk,kl", a, b, c)
        same_as_numpy(a, [0, 1], b, [1, 2], c, [2, 3])
        t, u = arange(60, dtype, 3, 4, 5), arange(24, dtype, 4, 3, 2)
        same_as_numpy("ijk, jil -> kl", t, u)
        same_as_numpy(t, [0, 1, 2], u, [1, 0, 3], [2, 3])


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logical_and_scalars(dtype):
    negative = -2 if np.dtype(dtype).kind != "u" else np.iinfo(dtype).max - 1
    a = np.array([1, 3, negative, 0, 12, 13, 0, 1], dtype=dtype)
    b = np.array([0, 3.5, 0.0, negative, 0, 1, 3, 12], dtype=dtype)
    c = np.array([True, True, False, True, True, False, True, True])
    same_as_numpy("i,i,i->i", a, b, c, dtype="?", casting="unsafe")
    same_as_numpy(a, [0], b, [0], c, [0], [0], dtype="?", casting="unsafe")
    nine = np.arange(9, dtype=dtype)
    for arguments in [(",i->", 3, nine), (3, [], nine, [0], []), ("i,->", nine, 3),
                      (nine, [0], 3, [], [])]:  # fmt: skip
        same_as_numpy(*arguments)
    summed = tc.einsum("i->", np.arange(9, dtype=object), dtype=dtype, casting="unsafe")
    assert summed.dtype == np.dtype(dtype) and summed == 36


@pytest.mark.parametrize("dtype", ["i2", "u4", "f2", "f4", "f8", "c8"])
def test_strides_and_scalars(dtype):
    for n in (1, 2, 5, 24):
        a = np.arange(n, dtype=dtype)
        for x, y in [(a, a), (a[1:], a[:-1])]:
            same_as_numpy("...,...", x, y)
            same_as_numpy("i,i", x, y)
            same_as_numpy("i,->i", x, 2)
            same_as_numpy(",i->i", 2, x)
            same_as_numpy("i,->", x, 2)
            same_as_numpy(",i->", 2, x)


# --- regressions numpy's suite keeps --------------------------------------------------------------


@pytest.mark.parametrize("optimize", [False, True])
def test_regressions(optimize):
    check = lambda *arguments: same_as_numpy(*arguments, optimize=optimize)  # noqa: E731
    p, q, r = np.arange(2) + 1, np.arange(4).reshape(2, 2) + 3, np.arange(4).reshape(2, 2) + 7
    assert check("z,mz,zm->", p, q, r) == 253
    np.testing.assert_array_equal(check("ij,ij->j", np.ones((10, 2)), np.ones((1, 2))), [10.0] * 2)
    assert check("i, i", np.array([2.0, 3.0]), np.array([4.0])) == 20.0
    half_row, half = np.ones((1, 5)) / 2, np.ones((5, 5)) / 2
    np.testing.assert_array_equal(
        check("...ij,...jk->...ik", half_row, half), check("...ij,...jk->...ik", half_row, half_row)
    )
    for spec, x, y in [("ji,i->", np.eye(2), np.ones(2)), ("i,ij->", np.ones(2), np.eye(2)),
                       ("ij,i->", np.eye(2), np.ones(2))]:  # fmt: skip
        assert check(spec, x, y) == 2.0
    check("ij...,j...->i...", np.ones((1, 2)), np.ones((2, 2, 1)))
    check("...i,...i", [1, 2, 3], [2, 3, 4])
    five = np.ones((5, 12, 4, 2, 3), np.int64)
    eleven = np.ones((5, 12, 11), np.int64)
    np.testing.assert_array_equal(
        check("ijklm,ijn,ijn->", five, eleven, eleven), check("ijklm,ijn->", five, eleven)
    )
    a, b, c = np.arange(1, 3), np.arange(1, 5).reshape(2, 2), np.arange(1, 9).reshape(4, 2)
    check("x,yx,zx->xzy", a, b, c)
    np.testing.assert_array_equal(tc.einsum("i,j", [1], [2], out=None), [[2]])
    x = np.tile(np.array([1, 2, 3]), (3, 3, 1))  # numpy < 2.5 sums '...' only with optimize
    np.testing.assert_array_equal(same_as_numpy("i...->i", x, optimize=True), [18, 18, 18])
    check("bbcdc->d", np.arange(9).reshape(1, 1, 3, 1, 3))


@pytest.mark.parametrize(
    "spec", ["...i->i", "ij...->i", "ij...->ij", "...ij->i", "...ij->ij", "i...j->i", "i...j->ij",
             "ijk->i", "ijk->ij", "ijk->ijk"],
)  # fmt: skip
def test_ellipsis_single_operand(spec):
    """numpy sums the axes of a '...' the output leaves out (before 2.5 only with optimize)."""
    same_as_numpy(spec, np.tile(np.array([1, 2, 3]), (3, 3, 1)), optimize=True)


@pytest.mark.parametrize(
    "spec", ["ij..., i...->i", "j..., i...->j", "j..., i...->", "ijk, jk...->", "ijk, k...->i",
             "ijk, klm->k", "ijk, jkl->ik"],
)  # fmt: skip
def test_ellipsis_two_operands(spec):
    x = np.tile(np.array([1, 2, 3]), (3, 3, 1))
    same_as_numpy(spec, x, x, optimize=True)


@pytest.mark.parametrize("optimize", [False, True])
def test_broadcast(optimize):
    check = lambda *arguments: same_as_numpy(*arguments, optimize=optimize)  # noqa: E731
    a, b = np.arange(24).reshape(2, 3, 4), np.arange(3)
    for spec in ["ij...,j...->ij...", "ij...,...j->ij...", "ij...,j->ij..."]:
        np.testing.assert_array_equal(check(spec, a, b), np.einsum("ijk,j->ijk", a, b))
    a, b = np.arange(12).reshape(4, 3), np.arange(6).reshape(3, 2)
    for spec in ["ik...,k...->i...", "ik...,...kj->i...j", "...k,kj", "ik,k...->i..."]:
        np.testing.assert_array_equal(check(spec, a, b), a @ b)
    a, v = np.arange(120).reshape(2, 3, 4, 5), np.arange(4)
    for spec in ["ijkl,k", "...kl,k", "...kl,k..."]:
        check(spec, a, v)
    a, b = (
        np.arange(4 * 4 * 3).reshape(1, 1, 1, 4, 4, 3),
        np.arange(4 * 4 * 3 * 3).reshape(4, 4, 3, 3),
    )
    check("...lmn,lmno->...o", a, b)


def test_fixed_stride_and_collapsing_cases():
    a = np.arange(6).reshape(2, 3).astype(np.float32)
    b = np.arange(2 * 3 * 2731).reshape(2, 3, 2731).astype(np.int16)
    same_as_numpy("cl, cpx->lpx", a, b)
    x = RNG.normal(0, 1, (5, 5, 5, 5))
    out = np.zeros((5, 5))
    tc.einsum("aabb->ab", x, out=out)
    idx = np.arange(5)
    np.testing.assert_array_equal(out, x[idx[:, None], idx[:, None], idx, idx])
    tensor = RNG.random((10, 10, 10, 10))
    np.testing.assert_allclose(tc.einsum("ijij->", tensor), tensor.trace(axis1=0, axis2=2).trace())


def test_out_that_is_not_contiguous_or_is_an_operand():
    x = np.ones((5, 5))
    for spec in ["mi,mi,mi->m", "im,im,im->m"]:
        out = np.ones(10)[::2]
        tc.einsum(spec, x, x, x, out=out)
        want = np.ones(10)
        want[::2] = 5
        np.testing.assert_array_equal(out.base, want)
    out = np.ones((2, 2, 2))[..., 0]
    tc.einsum("ij,jk->ik", np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), out=out)
    np.testing.assert_array_equal(out, 2.0)
    a = np.arange(9).reshape(3, 3)
    assert tc.einsum("...ij,...jk->...ik", a, a, out=a) is a
    b = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(tc.einsum("ij,jk->ik", a := b.copy(), b, out=b), a @ a)
    boolean = np.zeros((16, 1, 1), dtype=bool)[:2]
    boolean[...] = True
    out = np.zeros((16, 1, 1), dtype=bool)[:2]
    np.testing.assert_array_equal(tc.einsum("...ij,...jk->...ik", boolean, boolean, out=out), True)


@pytest.mark.parametrize("dtype", np.typecodes["AllFloat"] + np.typecodes["AllInteger"])
def test_different_paths(dtype):
    arr = (np.arange(7) + 0.5).astype(dtype)
    scalar = np.array(2, dtype=dtype)
    same_as_numpy("i->", arr)
    same_as_numpy("i,i->i", arr, arr)
    same_as_numpy("i,i->i", arr.repeat(2)[::2], arr.repeat(2)[::2])
    same_as_numpy("i,i->", arr, arr)
    out = np.ones(7, dtype=dtype)
    assert tc.einsum("i,->i", arr, np.dtype(dtype).type(2), out=out) is out
    np.testing.assert_array_equal(out, arr * np.dtype(dtype).type(2))
    same_as_numpy(",i->i", scalar, arr)
    same_as_numpy(",i->", scalar, arr)
    same_as_numpy("i,->", arr, scalar)
    arr = np.array([0.5, 0.5, 0.25, 4.5, 3.0], dtype=dtype)
    same_as_numpy("i,i,i->", arr, arr, arr)
    same_as_numpy("i,i,i,i->", arr, arr, arr, arr)


def test_sums_are_precise():
    value = 1.0 + np.finfo(np.float64).eps * 8196
    np.testing.assert_almost_equal(
        tc.einsum("i->", np.broadcast_to(np.array(value), 10**6)) / 10**6, value, 15
    )


# --- optimize: every strategy gives the unoptimised answer ------------------------------------------

OPTIMIZE_CASES = [*CONTRACTIONS, "ba,ac,da->bcd"]
SIZES_WITH_J = {**SIZES, "j": 3}


@pytest.mark.parametrize("spec", OPTIMIZE_CASES)
def test_optimize_compare(spec):
    operands = operands_for(spec, SIZES_WITH_J)
    for optimize in (False, "greedy", "optimal"):
        same_as_numpy(spec, *operands, optimize=optimize)


SINGLETONS = [
    ("ijk,kl,jl", [(1, 5, 4), (4, 6), (5, 6)]),
    ("ijk,kl,jl,i->i", [(1, 5, 4), (4, 6), (5, 6), (10,)]),
    ("abjk,kl,jl", [(1, 1, 5, 4), (4, 6), (5, 6)]),
    ("abjk,kl,jl,ab->ab", [(1, 1, 5, 4), (4, 6), (5, 6), (7, 7)]),
    ("obk,ijk->ioj", [(2, 4, 8), (2, 4, 8)]),
    ("ijp,ipq,ikq->ijk", [(3, 1, 1), (3, 1, 3), (1, 3, 3)]),
    ("jhcabhijaci,dfijejgh->fgje", [(1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1), (3, 1, 3, 1, 1, 1, 1, 2)]),
    ("baegffahgc,hdggeff->dhg", [(2, 1, 4, 1, 1, 1, 1, 2, 1, 1), (1, 1, 1, 1, 4, 1, 1)]),
    ("cehgbaifff,fhhdegih->cdghbi", [(1,) * 10, (2, 1, 1, 2, 4, 1, 1, 1)]),
    ("gah,cdbcghefg->ef", [(2, 3, 1), (1, 3, 1, 1, 1, 2, 1, 4, 1)]),
    ("cacc,bcb->", [(1, 1, 1, 1), (1, 4, 1)]),
]


@pytest.mark.parametrize(("spec", "shapes"), SINGLETONS)
def test_broadcasting_and_singletons(spec, shapes):
    operands = [RNG.random(shape) for shape in shapes]
    for optimize in (False, "greedy", "optimal"):
        same_as_numpy(spec, *operands, optimize=optimize)


# --- einsum_path: numpy's paths and reports ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "optimize"),
    [("a,b,c->abc", ("greedy", 0)), ("a,b,c->abc", ("optimal", 0)), ("acdf,jbje,gihb,hfac", ("greedy", 0)),
     ("acdf,jbje,gihb,hfac,gfac,gifabc,hfac", "greedy"), ("acdf,jbje,gihb,hfac,gfac,gifabc,hfac", "optimal"),
     ("chd,bde,agbc,hiad,bdi,cgh,agdb", "greedy"), ("chd,bde,agbc,hiad,bdi,cgh,agdb", "optimal"),
     ("eb,cb,fb->cef", "optimal"), ("dd,fb,be,cdb->cef", "greedy"), ("bca,cdb,dbf,afc->", "optimal"),
     ("dcc,fce,ea,dbf->ab", "greedy"), ("dcc,fce,ea,dbf->ab", "optimal"), ("dcc,fce,ea,dbf->ab", False),
     ("dcc,fce,ea,dbf->ab", True), ("dcc,fce,ea,dbf->ab", ["einsum_path", (0, 2), (0, 2), (0, 1)]),
     ("cab,cdd->ab", ["einsum_path", (1,), (0, 1)])],
)  # fmt: skip
def test_einsum_path(spec, optimize):
    operands = operands_for(spec, SIZES_WITH_J)
    assert tc.einsum_path(spec, *operands, optimize=optimize) == np.einsum_path(
        spec, *operands, optimize=optimize
    )
    if isinstance(optimize, list):
        same_as_numpy(spec, *operands, optimize=optimize)


def test_einsum_path_of_equal_sizes():
    operands = operands_for("a,ac,ab,ad,cd,bd,bc->", dict.fromkeys("abcd", 20))
    for optimize in ("greedy", "optimal"):
        path = tc.einsum_path("a,ac,ab,ad,cd,bd,bc->", *operands, optimize=optimize)[0]
        assert path == ["einsum_path", (0, 1), (0, 1, 2, 3, 4, 5)]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("ab,bc,cd,de->ae", ["einsum_path", (2, 3), (0, 1)]),
        ("a,a,a->a", ["einsum_path", (1,), (0, 1)]),
    ],
)
def test_invalid_paths_are_runtime_errors(spec, path):
    operands = operands_for(spec)
    for function in (tc.einsum, tc.einsum_path):
        with pytest.raises(RuntimeError):
            function(spec, *operands, optimize=path)


def test_spaces():
    arr = np.array([[1]])
    for spaces in [("", "", "", ""), (" ", "", " ", ""), (" ", " ", " ", " "), ("", " ", "", " ")]:
        same_as_numpy("{}...a{}->{}...a{}".format(*spaces), arr)
