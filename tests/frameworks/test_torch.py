"""tensorc's torch backend composed with PyTorch: autograd, torch.func.grad / vmap,
torch.compile(fullgraph=True), devices, dtype promotion, non-contiguous and zero-size inputs.

Every program is checked against the same maths written by hand in torch (cases.py)."""

from __future__ import annotations

import functools

import pytest
import torch

import tensorc as tc

from .cases import CASES, CASES_BY_NAME, ZERO_IDS, ZERO_SIZE, inputs, torch_ops

OPS = torch_ops()
CASE_IDS = [case.name for case in CASES]
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


def compiled(case):
    return tc.compile(case.source, backend="torch")


def bound(case):
    """The compiled program with its keyword sizes bound: a function of the tensors only."""
    return functools.partial(compiled(case), **case.sizes)


def reference(case, *args):
    return case.reference(OPS, *args, **case.sizes)


def tensors(case, dtype=torch.float64, device="cpu", seed=0, requires_grad=False, integers=False):
    return [
        torch.as_tensor(x, device=device)
        .to(dtype)
        .requires_grad_(requires_grad and dtype.is_floating_point)
        for x in inputs(case, seed, integers=integers)
    ]


def close(got, expected, rtol=1e-10, atol=1e-12):
    assert isinstance(got, torch.Tensor)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    torch.testing.assert_close(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# --- autograd ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_autograd_gradients_equal_the_hand_written_reference(case):
    args = tensors(case, requires_grad=True)
    out = bound(case)(*args)
    assert out.requires_grad and out.grad_fn is not None
    expected = reference(case, *args)
    close(out, expected)
    cotangent = torch.linspace(0.5, 1.5, expected.numel(), dtype=torch.float64).reshape(
        expected.shape
    )
    got_grads = torch.autograd.grad((out * cotangent).sum(), args)
    ref_grads = torch.autograd.grad((expected * cotangent).sum(), args)
    for got, want in zip(got_grads, ref_grads, strict=True):
        close(got, want, rtol=1e-9, atol=1e-12)


def test_requires_grad_only_where_an_input_requires_it():
    case = CASES_BY_NAME["matmul"]
    a, b = tensors(case)
    f = bound(case)
    assert not f(a, b).requires_grad
    a.requires_grad_(True)
    out = f(a, b)
    assert out.requires_grad
    (grad_a,) = torch.autograd.grad(out.sum(), [a])
    close(grad_a, torch.ones(3, 5, dtype=torch.float64) @ b.T)
    with torch.no_grad():
        assert not f(a, b).requires_grad


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_func_grad(case):
    args = tensors(case)
    f = bound(case)

    def loss(fn):
        return lambda *a: (fn(*a) ** 2).sum()

    argnums = tuple(range(len(args)))
    got = torch.func.grad(loss(f), argnums=argnums)(*args)
    want = torch.func.grad(loss(lambda *a: reference(case, *a)), argnums=argnums)(*args)
    for g, w in zip(got, want, strict=True):
        close(g, w, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_func_vmap_over_a_leading_axis_of_the_first_input(case):
    args = tensors(case)
    batch = torch.stack([args[0], 2 * args[0], args[0] + 1])
    in_dims = (0,) + (None,) * (len(args) - 1)
    got = torch.func.vmap(bound(case), in_dims=in_dims)(batch, *args[1:])
    want = torch.stack([reference(case, x, *args[1:]) for x in batch])
    close(got, want)


def test_torch_func_grad_of_vmap_composes():
    case = CASES_BY_NAME["attention"]
    q, k, v = tensors(case)
    f = bound(case)
    qs = torch.stack([q, q * 0.5])

    def loss(fn):
        return lambda q_: torch.func.vmap(fn, in_dims=(0, None, None))(q_, k, v).pow(2).sum()

    close(
        torch.func.grad(loss(f))(qs),
        torch.func.grad(loss(lambda *a: reference(case, *a)))(qs),
        rtol=1e-9,
    )


# --- torch.compile ------------------------------------------------------------------------
# Warm-up calls are not needed (tests/frameworks/test_torch_compile.py calls cold); these
# tests keep them, to check that a warmed-up program traces the same. The dynamo-only checks use
# backend="aot_eager" (no inductor code generation, so the suite stays fast); a few programs go
# through the default inductor backend as well.

INDUCTOR_CASES = ["matmul", "attention", "layer_norm"]


@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_compile_fullgraph_after_a_warm_up_call_has_no_graph_breaks(case, fresh_dynamo):
    args = tensors(case)
    f = bound(case)
    expected = reference(case, *args)
    close(f(*args), expected)  # warm-up: makes the plan
    explanation = torch._dynamo.explain(f)(*args)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
    close(torch.compile(f, fullgraph=True, backend="aot_eager")(*args), expected)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_compile_fullgraph_of_function_for(case, fresh_dynamo):
    args = tensors(case)
    function = compiled(case).function_for(*args, **case.sizes)
    explanation = torch._dynamo.explain(function)(*args)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    out = torch.compile(function, fullgraph=True, backend="aot_eager")(*args)
    close(out, reference(case, *args))


@pytest.mark.parametrize("name", INDUCTOR_CASES)
def test_torch_compile_fullgraph_with_inductor(name, fresh_dynamo):
    case = CASES_BY_NAME[name]
    args = tensors(case, dtype=torch.float32)
    f = bound(case)
    f(*args)
    got = torch.compile(f, fullgraph=True)(*args)
    close(got, reference(case, *args), rtol=1e-5, atol=1e-6)


def test_torch_compile_fullgraph_keeps_autograd(fresh_dynamo):
    case = CASES_BY_NAME["layer_norm"]
    args = tensors(case, requires_grad=True)
    f = bound(case)
    f(*args)
    out = torch.compile(f, fullgraph=True, backend="aot_eager")(*args)
    assert out.requires_grad
    got = torch.autograd.grad(out.pow(2).sum(), args)
    want = torch.autograd.grad(reference(case, *args).pow(2).sum(), args)
    for g, w in zip(got, want, strict=True):
        close(g, w, rtol=1e-9)


def test_torch_compile_fullgraph_with_several_warmed_up_shapes(fresh_dynamo):
    """A recompilation for a new (already planned) shape stays one graph too."""
    f = compiled(CASES_BY_NAME["softmax"])
    shapes = [(3, 4), (5, 4), (7, 4)]
    for shape in shapes:
        f(torch.rand(shape, dtype=torch.float64))
    compiled_f = torch.compile(f, fullgraph=True, backend="aot_eager")
    for shape in shapes:
        s = torch.rand(shape, dtype=torch.float64)
        close(compiled_f(s), torch.softmax(s, 1))


def test_torch_compile_cold_call_without_fullgraph_works(fresh_dynamo):
    """With graph breaks allowed, dynamo falls back to eager for the planning step."""
    f = tc.compile("C[p, r] = A[p, q] * B[q, r]", backend="torch")  # a fresh source
    a, b = torch.rand(3, 4, dtype=torch.float64), torch.rand(4, 5, dtype=torch.float64)
    close(torch.compile(f, backend="aot_eager")(a, b), a @ b)


def test_torch_compile_fullgraph_cold_call_works(fresh_dynamo):
    """With no warm-up call, fullgraph tracing works too (issue 11; it used to reach the
    planner, which dynamo refused): the call is one opaque node that AOTAutograd traces."""
    f = tc.compile("C[u, w] = A[u, v] * B[v, w]", backend="torch")  # a fresh source
    a, b = torch.rand(3, 4, dtype=torch.float64), torch.rand(4, 5, dtype=torch.float64)
    close(torch.compile(f, fullgraph=True, backend="aot_eager")(a, b), a @ b)
    close(f(a, b), a @ b)  # and the program still works eagerly afterwards


# --- devices ------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_outputs_stay_on_the_inputs_device_and_keep_requires_grad(case, device):
    args = tensors(case, dtype=torch.float32, device=device, requires_grad=True)
    out = bound(case)(*args)
    assert out.device == args[0].device
    assert out.requires_grad
    close(out, reference(case, *args), rtol=1e-5, atol=1e-6)
    grads = torch.autograd.grad(out.sum(), args)
    assert all(g.device == args[0].device for g in grads)


@pytest.mark.parametrize("device", DEVICES)
def test_index_values_and_constants_are_made_on_the_inputs_device(device):
    f = tc.compile("M[i, j] = where(j <= i, S[i, j], -inf)", backend="torch")
    s = torch.rand(3, 3, device=device)
    out = f(s)
    assert out.device == s.device
    close(out, torch.where(torch.ones(3, 3, dtype=torch.bool, device=device).tril(), s, -torch.inf))


# --- dtypes -------------------------------------------------------------------------------

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int32, torch.int64]
TOLERANCE = {torch.float16: 2e-2, torch.bfloat16: 5e-2, torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_result_dtype_follows_torch(case, dtype):
    """The dtype torch's own ops give for the hand-written maths; where torch refuses (torch
    has no integer softmax or mean), tensorc raises a TensorcError."""
    if not dtype.is_floating_point and not case.ints:
        pytest.skip("integer inputs make no sense for this program")
    args = tensors(case, dtype=dtype, integers=not dtype.is_floating_point)
    try:
        expected = reference(case, *args)
    except RuntimeError:
        with pytest.raises(tc.TensorcError):
            bound(case)(*args)
        return
    got = bound(case)(*args)
    tol = TOLERANCE.get(expected.dtype, 0)
    close(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("name", "dtypes"),
    [
        ("matmul", (torch.float32, torch.float64)),
        ("matmul", (torch.int64, torch.float32)),
        ("matmul", (torch.float16, torch.bfloat16)),
        ("chain_of_three", (torch.float16, torch.float32, torch.float64)),
        ("relu_bias", (torch.int64, torch.float32)),
        ("relu_bias", (torch.float16, torch.float64)),
        ("layer_norm", (torch.float32, torch.float16, torch.float64)),
    ],
    ids=str,
)
def test_mixed_dtypes_promote_as_torch_does(name, dtypes):
    """torch's matmul refuses mixed dtypes; tensorc gives what `*` would (promote_types)."""
    case = CASES_BY_NAME[name]
    args = [
        t.to(d)
        for t, d in zip(
            tensors(case, integers=not all(d.is_floating_point for d in dtypes)),
            dtypes,
            strict=True,
        )
    ]
    promoted = functools.reduce(torch.promote_types, dtypes)
    try:  # elementwise maths mixes dtypes itself
        expected = reference(case, *args)
    except RuntimeError:  # matmul does not: promote first, as `*` would
        expected = reference(case, *[a.to(promoted) for a in args])
    assert expected.dtype == promoted
    got = bound(case)(*args)
    tol = max(TOLERANCE.get(d, 0) for d in dtypes)  # the least precise input's rounding
    close(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_integer_mean_follows_torch_which_refuses_it(dtype):
    """torch.mean raises on integer tensors; tensorc passes that on as a TensorcError."""
    a = torch.arange(12, dtype=dtype).reshape(4, 3)
    with pytest.raises(RuntimeError):
        torch.mean(a, 0)
    with pytest.raises(tc.TensorcError, match="mean"):
        tc.compile("m[j] = mean[i](A[i, j])", backend="torch")(a)


# --- non-contiguous and zero-size inputs --------------------------------------------------


def _transposed(t):
    """The same values as a non-contiguous view (a reversed-axes copy, permuted back)."""
    if t.dim() < 2:
        return t
    order = tuple(reversed(range(t.dim())))
    view = t.permute(order).contiguous().permute(order)
    assert not view.is_contiguous()
    return view


def _strided(t):
    """The same values as a strided slice of a twice-as-long tensor."""
    big = torch.zeros((2 * t.shape[0], *t.shape[1:]), dtype=t.dtype)
    big[::2] = t
    view = big[::2]
    assert not view.is_contiguous()
    return view


@pytest.mark.parametrize("make_view", [_transposed, _strided], ids=["transposed", "strided"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_non_contiguous_inputs(case, make_view):
    args = tensors(case)
    views = [make_view(t) for t in args]
    close(bound(case)(*views), reference(case, *args))


@pytest.mark.parametrize(("name", "shapes"), ZERO_SIZE, ids=ZERO_IDS)
def test_zero_size_inputs(name, shapes):
    case = CASES_BY_NAME[name]
    args = [torch.rand(shape, dtype=torch.float64) for shape in shapes.values()]
    if name == "split_axes_keyword":
        expected = args[0].reshape(0, 4, 2, 3).permute(0, 2, 1, 3)
    elif name == "merge_axes":
        expected = args[0].permute(0, 2, 1, 3).reshape(2, 4, 0)
    else:
        expected = reference(case, *args)
    close(bound(case)(*args), expected)
