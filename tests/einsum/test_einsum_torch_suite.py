"""Conformance with PyTorch's einsum tests (test/test_linalg.py: test_einsum,
test_einsum_sublist_format, test_einsum_random, test_einsum_corner_cases,
test_einsum_error_cases): the same cases on torch tensors, each `tc.einsum` call compared
with torch.einsum (values, shape, dtype and type). Written for tensorc; the cases it
answers differently are listed in docs/einsum.md (torch's RuntimeErrors are ValueErrors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from einsum_support import RNG, same_as

import tensorc as tc


def tensor(*shape: int, dtype=torch.float64, noncontiguous: bool = False) -> torch.Tensor:
    values = torch.as_tensor(RNG.standard_normal(shape)).to(dtype)
    if dtype.is_complex:
        values = values + 1j * torch.as_tensor(RNG.standard_normal(shape)).to(dtype)
    if noncontiguous:  # every other element of a tensor twice as long in the last axis
        wide = torch.zeros(*shape[:-1], 2 * shape[-1], dtype=dtype)
        wide[..., ::2] = values
        values = wide[..., ::2]
    return values


def bilinear(dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The operands of torch.bilinear's einsum, the outer two not contiguous."""
    left = tensor(5, 10, dtype=dtype, noncontiguous=True)
    right = tensor(5, 20, dtype=dtype, noncontiguous=True)
    return left, tensor(15, 10, 20, dtype=dtype), right


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return (t.float() if t.dtype == torch.bfloat16 else t).detach().numpy()


def check(*arguments) -> None:
    same_as(torch.einsum, to_numpy, *arguments)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128], ids=str)
def test_einsum(dtype):
    x, y = tensor(5, dtype=dtype), tensor(7, dtype=dtype)
    A, B, C = tensor(3, 5, dtype=dtype), tensor(2, 5, dtype=dtype), tensor(2, 3, 5, dtype=dtype)
    D, E = tensor(2, 5, 7, dtype=dtype), tensor(7, 9, dtype=dtype)
    F, G = tensor(2, 3, 3, 5, dtype=dtype), tensor(5, 4, 6, dtype=dtype)
    H, J = tensor(4, 4, dtype=dtype), tensor(2, 3, 2, dtype=dtype)
    for arguments in [
        ("i->", x), ("i,i->", x, x), ("i,i->i", x, x), ("i,j->ij", x, y),
        ("ij->ji", A), ("ij->j", A), ("ij->i", A), ("ij,ij->ij", A, A), ("ij,j->i", A, x),
        ("ij,kj->ik", A, B), ("ij,ab->ijab", A, E),
        ("Aij,Ajk->Aik", C, D), ("ijk,jk->i", C, A), ("aij,jk->aik", D, E), ("abCd,dFg->abCFg", F, G),
        ("ijk,jk->ik", C, A), ("ijk,jk->ij", C, A), ("ijk,ik->j", C, B), ("ijk,ik->jk", C, B),
        ("ii", H), ("ii->i", H), ("iji->j", J), ("ngrg...->nrg...", tensor(2, 1, 3, 1, 4, dtype=dtype)),
        ("i...->...", H), ("ki,...k->i...", A.t(), B), ("k...,jk->...", A.t(), B),
        ("...ik, ...j -> ...ij", C, x), ("Bik,k...j->i...j", C, tensor(5, 3, dtype=dtype)),
        ("i...j, ij... -> ...ij", C, tensor(2, 5, 2, 3, dtype=dtype)),
    ]:  # fmt: skip
        check(*arguments)
    left, w, right = bilinear(dtype)
    check("bn,anm,bm->ba", left, w, right)
    check("bn,Anm,bm->bA", left[:, ::2], w[:, ::2, ::2], right[:, ::2])


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128], ids=str)
def test_sublist_format(dtype):
    x, y = tensor(5, dtype=dtype), tensor(7, dtype=dtype)
    A, B, C = (
        tensor(3, 5, dtype=dtype),
        tensor(2, 5, dtype=dtype),
        tensor(2, 1, 3, 1, 4, dtype=dtype),
    )
    for arguments in [
        (x, [0]), (x, [0], []), (x, [0], y, [1], [0, 1]), (A, [0, 1], [1, 0]), (A, [0, 1], x, [1], [0]),
        (A, [0, 1], B, [2, 1]), (A, [0, 1], B, [2, 1], [0, 2]), (C, [0, 1, 2, 1, Ellipsis], [0, 2, 1, Ellipsis]),
        (A.t(), [0, 1], B, [Ellipsis, 0]), (A.t(), [0, 1], B, [Ellipsis, 0], [1, Ellipsis]),
        (A.t(), [0, Ellipsis], B, [1, 0], [Ellipsis]),
    ]:  # fmt: skip
        check(*arguments)
    left, w, right = bilinear(dtype)
    check(left, [40, 41], w, [2, 41, 50], right, [40, 50], [40, 2])


def letter(label) -> str:
    if label is Ellipsis:
        return "..."
    return chr(ord("A") + label) if label < 26 else chr(ord("a") + label - 26)


def random_case(rng: np.random.Generator):
    """Operands and sublists as torch's random test draws them: a few labels with random sizes,
    repeated labels (diagonals), an ellipsis at times, and size-1 axes that broadcast."""
    labels = rng.choice(52, size=5, replace=False)
    sizes = rng.integers(1, 6, size=52)
    batch = rng.integers(1, 6, size=2)
    operands, sublists = [], []
    for _ in range(rng.integers(1, 4)):
        picked = list(rng.choice(labels, size=rng.integers(1, 4)))
        shape = [int(sizes[label]) for label in picked]
        for label in picked:
            if rng.random() < 0.1:
                shape = [1 if picked[m] == label else s for m, s in enumerate(shape)]
        sublist: list = [int(label) for label in picked]
        if len(picked) < 3 and rng.random() < 0.5:
            width = int(rng.integers(1, 4 - len(picked)))
            where = int(rng.integers(0, len(picked) + 1))
            ellipsis_shape = [1 if rng.random() < 0.1 else int(s) for s in batch[2 - width :]]
            shape[where:where] = ellipsis_shape
            sublist.insert(where, Ellipsis)
        operands.append(torch.as_tensor(rng.standard_normal(shape)))
        sublists.append(sublist)
    return operands, sublists


@pytest.mark.parametrize("seed", range(40))
def test_random(seed):
    rng = np.random.default_rng(seed)
    operands, sublists = random_case(rng)
    spec = ",".join("".join(map(letter, sublist)) for sublist in sublists)
    arguments = [item for pair in zip(operands, sublists, strict=True) for item in pair]
    check(spec, *operands)
    check(*arguments)
    seen = sorted({label for sublist in sublists for label in sublist if label is not Ellipsis})
    out = [int(label) for label in rng.permutation(seen)[: rng.integers(0, min(3, len(seen)) + 1)]]
    out.insert(int(rng.integers(0, len(out) + 1)), Ellipsis)
    check(spec + "->" + "".join(map(letter, out)), *operands)
    check(*arguments, out)


CORNER_CASES = [
    (" ", [1], 1), (" -> ", [1], 1), (" , ", [2, 2], 4), (" , , ", [2, 2, 2], 8), (" , -> ", [2, 2], 4),
    (" i ", [[1]], [1]), (" i -> ", [[1]], 1), (" i -> i ", [[1]], [1]), (" i , i ", [[2], [2]], 4),
    (" i , i -> i ", [[2], [2]], [4]), ("i", [[]], []), (" i j -> j", [[[], []]], []),
    ("ij->i", [[[], []]], [0.0, 0.0]), ("i,j", [[2], [1, 2]], [[2, 4]]),
    ("i,ij->ij", [[1, 2], [[1, 2, 3], [2, 3, 4]]], [[1, 2, 3], [4, 6, 8]]),
    ("...", [1], 1), ("...->", [1], 1), ("...->...", [1], 1), ("...", [[1]], [1]), ("...->", [[1]], 1),
    ("z...->z", [[1]], [1]), ("Z...->...Z", [[1]], [1]), ("...a->", [[[2], [4]]], 6),
    ("a...b->ab", [[[[1], [2]], [[3], [4]]]], [[3], [7]]),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "operands", "expected"), CORNER_CASES)
def test_corner_cases(spec, operands, expected):
    tensors = [torch.tensor(operand, dtype=torch.float32) for operand in operands]
    got = tc.einsum(spec, tensors)  # torch's form: the operands in one list
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32))
    torch.testing.assert_close(got, torch.einsum(spec, tensors))
    check(spec, *tensors)


def test_zero_size_axes():
    check(
        " i j k  ,  k  -> i j ",
        tensor(3, 0, 6, dtype=torch.float32),
        tensor(6, dtype=torch.float32),
    )


ERRORS = [
    ("", []), (". ..", ["x"]), ("... ...", ["x"]), ("1", ["x"]), (",", ["x"]), ("", ["x", "x"]), ("", ["x"]),
    ("ai", ["x"]), ("ai...", ["x"]), ("a->... .", ["x"]), ("a->..", ["x"]), ("a->1", ["x"]),
    ("a->aa", ["x"]), ("a->i", ["x"]), ("aa", ["y"]), ("a, ba", ["x", "y"]),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "names"), ERRORS)
def test_error_cases(spec, names):
    """Refused as torch refuses them (torch raises RuntimeError; tensorc a ValueError)."""
    values = {"x": tensor(2, dtype=torch.float32), "y": tensor(2, 3, dtype=torch.float32)}
    operands = [values[name] for name in names]
    with pytest.raises((RuntimeError, ValueError)):
        torch.einsum(spec, operands)
    with pytest.raises(ValueError) as info:
        tc.einsum(spec, operands)
    assert isinstance(info.value, tc.TensorcError)


@pytest.mark.parametrize("label", [-1, 52])
def test_sublist_labels_out_of_range(label):
    with pytest.raises(ValueError):
        tc.einsum(tensor(2), [label])


@pytest.mark.parametrize(
    "dtype", [torch.int8, torch.uint8, torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float32],
    ids=str,
)  # fmt: skip
def test_dtypes_follow_torch_einsum(dtype):
    x = (torch.arange(6) % 3).to(dtype).reshape(2, 3)
    y = (torch.arange(12) % 2).to(dtype).reshape(3, 4)
    for spec, operands in [("ij->", [x]), ("ij->i", [x]), ("ij,jk->ik", [x, y]), ("ij,ij->ij", [x, x]),
                           ("ij,ij->", [x, x]), ("ii", [torch.ones(3, 3, dtype=dtype)])]:  # fmt: skip
        check(spec, *operands)


def test_booleans_follow_torch_einsum():
    m = torch.eye(3, dtype=torch.bool)
    for spec, operands in [("ii", [m]), ("ij->i", [m]), ("ij,ij->ij", [m, m])]:
        check(spec, *operands)
