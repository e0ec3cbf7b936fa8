"""The torch backend's RMS norm (backends/torch_norms.py): on the CPU in float32 and float64
it is a norm and one product with the gain multiplied in place, not `F.rms_norm` (whose three
temporaries the size of x made it slower than the bar of issue 11); elsewhere `F.rms_norm`.
Either way it gives what `F.rms_norm` and the written-out formula give, keeps its inputs as
they were, and carries gradients."""

from __future__ import annotations

import pytest
import torch

import tensorc as tc

RMS = "y[n, c] = x[n, c] / sqrt(mean[c](x[n, c] ** 2) + 1e-6) * g[c]"
RMS_PLAIN = "y[n, c] = x[n, c] / sqrt(mean[c](x[n, c] ** 2) + 1e-6)"
RMS_BIAS = "y[n, c] = x[n, c] / sqrt(mean[c](x[n, c] ** 2) + 1e-6) * g[c] + b[c]"
RMS_TWO_AXES = (
    "y[n, h, d] = x[n, h, d] / sqrt(mean[h, d](x[n, h, d] * x[n, h, d]) + 1e-5) * g[h, d]"
)
RMS_TRANSPOSED = "y[c, n] = x[n, c] / sqrt(mean[c](x[n, c] ** 2) + 1e-6) * g[c]"


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def normal(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return (torch.randn(*shape, generator=generator(seed), dtype=torch.float64) * 3 + 1).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_rms_norm_equals_torchs_kernel_and_the_formula(dtype):
    x, g = normal(16, 12, dtype=dtype), normal(12, dtype=dtype, seed=1)
    got = tc.compile(RMS, backend="torch")(x, g)
    kernel = torch.nn.functional.rms_norm(x, (12,), g, 1e-6)
    formula = tc.compile(RMS, backend="torch", passes=())(x, g)
    assert got.dtype == kernel.dtype == formula.dtype == dtype
    tolerance = {torch.float16: 2e-3, torch.bfloat16: 2e-2}.get(dtype, 1e-5)
    torch.testing.assert_close(got, kernel, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(got, formula, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(
    ("source", "shapes"),
    [
        (RMS_PLAIN, [(5, 7)]),
        (RMS_BIAS, [(5, 7), (7,), (7,)]),
        (RMS_TWO_AXES, [(4, 3, 5), (3, 5)]),
        (RMS_TRANSPOSED, [(5, 7), (7,)]),
        (RMS, [(0, 7), (7,)]),
        (RMS, [(1, 1), (1,)]),
    ],
)
def test_every_form_gives_the_written_out_answer(source, shapes):
    values = [normal(*shape, seed=k) for k, shape in enumerate(shapes)]
    got = tc.compile(source, backend="torch")(*values)
    want = tc.compile(source, backend="torch", passes=())(*values)
    torch.testing.assert_close(got, want)


def test_inputs_stay_as_they_were_and_non_contiguous_inputs_work():
    x, g = normal(9, 6).t(), normal(9, seed=1)  # x is (6, 9), not contiguous
    x_before, g_before = x.clone(), g.clone()
    got = tc.compile(RMS, backend="torch")(x, g)
    torch.testing.assert_close(got, torch.nn.functional.rms_norm(x, (9,), g, 1e-6))
    assert torch.equal(x, x_before) and torch.equal(g, g_before)


def test_gradients_flow_through_the_product_made_in_place():
    x = normal(4, 6).requires_grad_()
    g = normal(6, seed=1).requires_grad_()
    f = tc.compile(RMS, backend="torch")
    assert torch.autograd.gradcheck(f, (x, g))
    assert torch.autograd.gradgradcheck(f, (x, g))


def test_the_cpu_path_makes_no_call_to_torchs_kernel_in_float32(monkeypatch):
    """float32 and float64 on the CPU take the norm-and-product path; half precision, which
    torch's kernel computes in float32, keeps the kernel."""
    calls: list[torch.dtype] = []
    kernel = torch.nn.functional.rms_norm

    def counted(x, *args, **kwargs):
        calls.append(x.dtype)
        return kernel(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "rms_norm", counted)
    f = tc.compile(RMS, backend="torch")
    for dtype in (torch.float32, torch.float64, torch.float16):
        f(normal(3, 4, dtype=dtype), normal(4, dtype=dtype))
    assert calls == [torch.float16]


def test_rms_norm_compiles_in_one_graph():
    f = tc.compile(RMS + "\n# torch.compile", backend="torch")
    x, g = normal(8, 16, dtype=torch.float32), normal(16, dtype=torch.float32, seed=1)
    compiled = torch.compile(f, fullgraph=True)
    torch.testing.assert_close(compiled(x, g), f(x, g), rtol=1e-5, atol=1e-5)


def helpers() -> dict:
    """The generated module of a layer norm, run: its helpers by name."""
    source = "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5) * g[j] + b[j]"
    namespace: dict = {}
    exec(tc.compile(source, backend="torch").source, namespace)
    return namespace


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_tensors_of_one_float_dtype_reach_the_kernel_as_they_are(dtype):
    norm_dtype = helpers()["_norm_dtype"]
    x, g, b = normal(2, 3, dtype=dtype), normal(3, dtype=dtype), normal(3, dtype=dtype)
    assert all(a is c for a, c in zip(norm_dtype(x, g, b), (x, g, b), strict=True))
    assert all(a is c for a, c in zip(norm_dtype(x, None, None), (x, None, None), strict=True))


def test_mixed_and_integer_dtypes_are_promoted_as_the_formula_would():
    norm_dtype = helpers()["_norm_dtype"]
    x, g = normal(2, 3, dtype=torch.float32), normal(3)
    assert [t.dtype for t in norm_dtype(x, g, None)[:2]] == [torch.float64] * 2
    ints = torch.arange(6).reshape(2, 3)
    assert norm_dtype(ints, None, None)[0].dtype == torch.get_default_dtype()
    assert norm_dtype(x, None, g.to(torch.float16))[2].dtype == torch.float32
