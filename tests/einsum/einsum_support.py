"""Helpers of the einsum conformance suites: operands for subscripts, and comparisons of
`tc.einsum` with a framework's own einsum (values, shape and dtype)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tensorc as tc

# The letter sizes numpy's and opt_einsum's suites build their operands with.
SIZES = dict(zip("abcdefghij", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4], strict=True))

RNG = np.random.default_rng(2024)

# The contractions numpy's and opt_einsum's suites both plan with every strategy.
CONTRACTIONS = [
    "a,ab,abc->abc", "a,b,ab->ab", "ea,fb,gc,hd,abcd->efgh", "ea,fb,abcd,gc,hd->efgh",
    "abcd,ea,fb,gc,hd->efgh", "acdf,jbje,gihb,hfac,gfac,gifabc,hfac", "cd,bdhe,aidb,hgca,gc,hgibcd,hgac",
    "abhe,hidj,jgba,hiab,gab", "bde,cdh,agdb,hica,ibd,hgicd,hiac", "chd,bde,agbc,hiad,hgc,hgi,hiad",
    "chd,bde,agbc,hiad,bdi,cgh,agdb", "bdhe,acad,hiab,agac,hibd", "ab,ab,c->", "ab,ab,c->c",
    "ab,ab,cd,cd->", "ab,ab,cd,cd->ac", "ab,ab,cd,cd->cd", "ab,ab,cd,cd,ef,ef->", "ab,cd,ef->abcdef",
    "ab,cd,ef->acdf", "ab,cd,de->abcde", "ab,cd,de->be", "ab,bcd,cd->abcd", "ab,bcd,cd->abd",
    "eb,cb,fb->cef", "dd,fb,be,cdb->cef", "bca,cdb,dbf,afc->", "dcc,fce,ea,dbf->ab",
    "fdf,cdd,ccd,afe->ae", "abcd,ad", "ed,fcd,ff,bcf->be", "baa,dcf,af,cde->be", "bd,db,eac->ace",
    "fff,fae,bef,def->abd", "efc,dbc,acf,fd->abe", "ab,ab", "ab,ba", "abc,abc", "abc,bac", "abc,cba",
    "aab,fa,df,ecc->bde", "ecb,fef,bad,ed->ac", "bcf,bbb,fbf,fc->", "bb,ff,be->e", "bcb,bb,fc,fff->",
    "fbb,dfd,fc,fc->", "afd,ba,cc,dc->bf", "adb,bc,fa,cfc->d", "bbd,bda,fc,db->acf",
    "dba,ead,cad->bce", "aef,fbc,dca->bde",
]  # fmt: skip


def operands_for(spec: str, sizes: dict[str, int] = SIZES, dtype: Any = np.float64) -> list[Any]:
    """Random operands for subscripts, each letter of the size `sizes` gives it."""
    terms = spec.split("->")[0].split(",")
    return [RNG.random([sizes[c] for c in term]).astype(dtype) for term in terms]


def tolerance(dtype: Any) -> float:
    kind = np.dtype(dtype)
    if kind == np.float16:
        return 2e-3
    if kind in (np.float32, np.complex64):
        return 2e-5
    return 1e-10


def same_as_numpy(*arguments: Any, **options: Any) -> np.ndarray:
    """tc.einsum against np.einsum with the same arguments: values, shape and dtype."""
    want = np.einsum(*arguments, **options)
    got = tc.einsum(*arguments, **options)
    assert isinstance(got, np.ndarray), type(got)
    # numpy returns a scalar as a NumPy scalar, or for object arrays as the object itself
    want = np.asarray(want, dtype=None if isinstance(want, np.ndarray | np.generic) else object)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(
            got, want, rtol=tolerance(want.dtype), atol=tolerance(want.dtype)
        )
    else:
        np.testing.assert_array_equal(got, want)
    return got


def same_as(
    reference: Callable[..., Any], to_numpy: Callable[[Any], np.ndarray], *arguments: Any
) -> None:
    """tc.einsum against another framework's einsum: values, shape and dtype."""
    want = reference(*arguments)
    got = tc.einsum(*arguments)
    assert type(got) is type(want), (type(got), type(want))
    assert tuple(got.shape) == tuple(want.shape), (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    got_values, want_values = to_numpy(got), to_numpy(want)
    if want_values.dtype.kind in "fc":
        rtol = tolerance(want_values.dtype) * 10
        np.testing.assert_allclose(got_values, want_values, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(got_values, want_values)
