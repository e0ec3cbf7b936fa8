"""CONTRACT §1: a torch-backend function and tc.einsum work inside torch.compile(fullgraph=True)
from their very first call, with new shapes, with dynamic=True, inside an nn.Module, under
torch.export.export (whose program runs without tensorc) and torch.jit.trace.

Every program is compiled from a fresh source (`fresh`), so that no cache of an earlier call
hides a failure of the first one; graph breaks are counted with dynamo's own counters.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest
import torch
import torch._dynamo as dynamo
from torch._dynamo.utils import counters

import tensorc as tc
from tensorc.runtime import JitProgram

LAYER_NORM = "y[i, j] = (x[i, j] - mean[j](x[i, j])) / sqrt(var[j](x[i, j]) + 1e-5) * g[j] + b[j]"
MATMUL = "C[i, k] = A[i, j] * B[j, k]"
GATHER = "y[b, t, d] = E[ids[b, t], d]"
CONV = "y[i] = x[i + k] * w[k]"
SPLIT = "y[h, d] = x[(h d)]"


def fresh(source: str, **options):
    """A program from a source that no cache has seen."""
    return tc.compile(f"{source}\n# {uuid.uuid4().hex}", backend="torch", **options)


@pytest.fixture(autouse=True)
def fresh_dynamo():
    dynamo.reset()
    counters.clear()
    yield
    dynamo.reset()


def no_graph_breaks() -> None:
    assert not counters["graph_break"], dict(counters["graph_break"])


def rand(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype)


# --- torch.compile --------------------------------------------------------------------------


def test_the_first_call_is_traced_into_one_graph():
    f = fresh(MATMUL)
    a, b = rand(3, 4), rand(4, 5)
    explained = dynamo.explain(f)(a, b)
    assert explained.graph_count == 1 and explained.graph_break_count == 0
    torch.testing.assert_close(torch.compile(f, fullgraph=True)(a, b), a @ b)
    no_graph_breaks()


@pytest.mark.parametrize("dynamic", [None, False, True])
def test_new_shapes_need_no_warm_up(dynamic):
    f = fresh(LAYER_NORM)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager", dynamic=dynamic)
    for rows, width in [(3, 4), (5, 4), (7, 6), (2, 9)]:
        x, g, b = rand(rows, width), rand(width), rand(width)
        want = torch.nn.functional.layer_norm(x, (width,), g, b, 1e-5)
        torch.testing.assert_close(compiled(x, g, b), want)
    no_graph_breaks()


def test_dynamic_sizes_flow_into_one_graph():
    """With dynamic=True the plan is the generic function: one graph serves every size."""
    f = fresh(CONV)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager", dynamic=True)
    for n in (9, 12, 20):
        x, w = rand(n), rand(3)
        torch.testing.assert_close(compiled(x, w), f(x, w))
    assert counters["stats"]["unique_graphs"] == 1
    no_graph_breaks()


def test_keyword_sizes_and_python_numbers_under_dynamic_shapes():
    f = fresh(SPLIT)
    scale = fresh("y[h, d] = x[h, d] * alpha")
    compiled = torch.compile(lambda x, d, a: scale(f(x, d=d), a), fullgraph=True, dynamic=True)
    x = rand(12)
    torch.testing.assert_close(compiled(x, 4, 0.5), x.reshape(3, 4) * 0.5)
    torch.testing.assert_close(compiled(rand(30), 5, 2.0).shape, torch.Size([6, 5]))
    no_graph_breaks()


def test_inductor_compiles_the_library_kernels():
    f = fresh(LAYER_NORM)
    x, g, b = torch.randn(64, 32), torch.randn(32), torch.randn(32)
    got = torch.compile(f, fullgraph=True)(x, g, b)
    want = torch.nn.functional.layer_norm(x, (32,), g, b, 1e-5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    no_graph_breaks()


def test_gradients_flow_through_a_compiled_cold_call():
    f = fresh(LAYER_NORM)
    x, g, b = (t.requires_grad_() for t in (rand(5, 4), rand(4), rand(4)))
    out = torch.compile(f, fullgraph=True, backend="aot_eager")(x, g, b)
    got = torch.autograd.grad(out.pow(2).sum(), (x, g, b))
    want = torch.nn.functional.layer_norm(x, (4,), g, b, 1e-5)
    for grad, expected in zip(got, torch.autograd.grad(want.pow(2).sum(), (x, g, b)), strict=True):
        torch.testing.assert_close(grad, expected)


def test_gathers_and_windows_trace_with_symbolic_sizes():
    gather, conv = fresh(GATHER), fresh(CONV)

    def model(table, ids, x, w):
        return gather(table, ids).sum(-1), conv(x, w)

    compiled = torch.compile(model, fullgraph=True, backend="aot_eager", dynamic=True)
    for rows in (4, 7):
        table, ids = rand(10, 3), torch.randint(0, 10, (2, rows))
        x, w = rand(rows + 5), rand(3)
        for got, want in zip(compiled(table, ids, x, w), model(table, ids, x, w), strict=True):
            torch.testing.assert_close(got, want)
    no_graph_breaks()


# --- inside a model: nn.Module, tc.einsum -----------------------------------------------------


class Block(torch.nn.Module):
    """A module whose forward calls a tensorc program and tc.einsum."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = fresh(LAYER_NORM)
        self.g = torch.nn.Parameter(torch.ones(width))
        self.b = torch.nn.Parameter(torch.zeros(width))
        self.w = torch.nn.Parameter(torch.randn(width, width) / width**0.5)

    def forward(self, x):
        return tc.einsum("nq,qz->nz", self.norm(x, self.g, self.b), self.w)


def eager_block(block: Block, x):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], block.g, block.b, 1e-5) @ block.w


@pytest.mark.parametrize("dynamic", [None, True])
def test_an_nn_module_compiles_whole(dynamic):
    block = Block(8)
    compiled = torch.compile(block, fullgraph=True, backend="aot_eager", dynamic=dynamic)
    for rows in (3, 6):
        x = torch.randn(rows, 8)
        torch.testing.assert_close(compiled(x), eager_block(block, x))
    no_graph_breaks()


def test_tc_einsum_cold_under_fullgraph():
    subscripts = "pq" + chr(0x3B1 + uuid.uuid4().int % 20) + ",q->p"  # subscripts never seen
    a, v = rand(3, 4, 2), rand(4)
    compiled = torch.compile(lambda a, v: tc.einsum(subscripts, a, v), fullgraph=True)
    torch.testing.assert_close(compiled(a, v), torch.einsum("pqr,q->p", a, v))
    no_graph_breaks()


# --- torch.export and torch.jit.trace ---------------------------------------------------------


def test_torch_export_with_dynamic_sizes():
    block = Block(8)
    rows = torch.export.Dim("rows")
    exported = torch.export.export(block, (torch.randn(4, 8),), dynamic_shapes=({0: rows},))
    for n in (2, 9):
        x = torch.randn(n, 8)
        torch.testing.assert_close(exported.module()(x), eager_block(block, x))


def test_an_exported_program_runs_without_tensorc(tmp_path):
    block = Block(8)
    x = torch.randn(5, 8)
    exported = torch.export.export(block, (x,), dynamic_shapes=({0: torch.export.Dim("n")},))
    torch.export.save(exported, tmp_path / "block.pt2")
    torch.save({"x": torch.randn(7, 8)}, tmp_path / "x.pt")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["tensorc"] = None  # importing tensorc now fails
        import torch
        program = torch.export.load({str(tmp_path / "block.pt2")!r})
        x = torch.load({str(tmp_path / "x.pt")!r})["x"]
        torch.save(program.module()(x), {str(tmp_path / "y.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    x = torch.load(tmp_path / "x.pt")["x"]
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), eager_block(block, x))


def test_positions_out_of_range_fail_in_an_exported_program():
    """Traced, the check of tensor-valued positions is an assertion in the graph (no sync);
    eagerly it is still the PositionError the contract names."""
    gather = fresh(GATHER)
    table = rand(10, 3)

    class Lookup(torch.nn.Module):
        def forward(self, ids):
            return gather(table, ids)

    exported = torch.export.export(Lookup(), (torch.randint(0, 10, (2, 3)),))
    ids = torch.zeros(2, 3, dtype=torch.long)
    torch.testing.assert_close(exported.module()(ids), table[ids])
    with pytest.raises(RuntimeError, match="outside"):
        exported.module()(torch.full((2, 3), 11))
    with pytest.raises(tc.PositionError):
        gather(table, torch.full((2, 3), 11))


def test_torch_jit_trace_passes_its_check():
    block = Block(8)
    x = torch.randn(4, 8)
    traced = torch.jit.trace(block, (x,), check_trace=True)
    torch.testing.assert_close(traced(x), eager_block(block, x))


# --- tc.compile(..., jit=True) ----------------------------------------------------------------


def test_jit_true_hands_the_generated_function_to_torch_compile():
    f = fresh(LAYER_NORM, jit=True)
    assert isinstance(f, JitProgram)
    x, g, b = torch.randn(16, 8), torch.randn(8), torch.randn(8)
    torch.testing.assert_close(f(x, g, b), torch.nn.functional.layer_norm(x, (8,), g, b, 1e-5))
    assert counters["stats"]["unique_graphs"] == 1  # dynamo compiled the generated function
    f(x, g, b)
    assert counters["stats"]["unique_graphs"] == 1  # once


def test_jit_true_needs_a_backend_with_a_compiler():
    with pytest.raises(tc.TensorcError, match="jit=True"):
        tc.compile(MATMUL, backend="numpy", jit=True)


# --- devices: what tensorc creates is made where the inputs are ---------------------------------
# No accelerator needed: on the "meta" device a tensor made on the CPU (any shape but 0-d,
# which torch passes to device kernels by value) cannot meet the inputs, and `.item()` fails.

ON_DEVICE = [
    LAYER_NORM,
    "y[b, t, d] = x[b, t, d] / sqrt(mean[d](x[b, t, d] ** 2) + 1e-6) * w[d]",
    CONV,
    "y[i] = x[pad(i - 1)] + x[clamp(i + 1)] + x[wrap(i + 2)]",
    "y[2 * i] += x[i]",
    "M[i, j] = where(j <= i, S[i, j], -inf) + i",
    "y[b, d] = where(tok[b] == v, 1.0, 0.0) * W[v, d]",
]


@pytest.mark.parametrize("source", ON_DEVICE)
def test_created_tensors_are_made_on_the_inputs_device(source):
    f = fresh(source)
    labels = f.labels()
    sizes: dict[str, int] = {}
    shapes = {n: tuple(sizes.setdefault(label, 4) for label in labels[n]) for n in f.inputs}
    args = [
        torch.zeros(shapes[n], dtype=torch.long if n == "tok" else torch.float32, device="meta")
        for n in f.inputs
    ]
    out = f(*args)
    assert out.device.type == "meta"
    for made in ("torch.arange(", "torch.full(", "torch.zeros("):
        for line in f.source_for(*args).splitlines():
            if made in line and "torch.zeros(()" not in line:
                assert "device=" in line, line


def test_a_first_call_under_dynamo_before_any_eager_call(monkeypatch):
    """Before any eager call has bound torch's own check, dynamo reads tensorc's first one."""
    from tensorc import tracing

    monkeypatch.setattr(tracing, "active", tracing._until_imported)
    f = fresh(MATMUL)
    a, b = rand(3, 4), rand(4, 5)
    torch.testing.assert_close(torch.compile(f, fullgraph=True, backend="eager")(a, b), a @ b)
    no_graph_breaks()


WINDOW_ADD = "Y[2*y + k] += X[y, k]"


@pytest.mark.parametrize("axis", [0, 1])
def test_writes_at_windows_export_with_a_dynamic_size(axis):
    """The window sizes of a write at positions stay symbolic: the slices that write it are
    not looped over while sizes are symbols (that fixed them to the example's)."""
    f = fresh(WINDOW_ADD)

    class Model(torch.nn.Module):
        def forward(self, x):
            return f(X=x)

    dims = {"x": {axis: torch.export.Dim("size", max=64)}}
    exported = torch.export.export(Model(), (rand(4, 3),), dynamic_shapes=dims)
    x = rand(4, 5) if axis else rand(6, 3)
    torch.testing.assert_close(exported.module()(x), f(X=x))


def test_writes_at_windows_are_one_graph_with_dynamic_sizes():
    f = fresh(WINDOW_ADD)
    compiled = torch.compile(lambda x: f(X=x), fullgraph=True, backend="aot_eager", dynamic=True)
    for shape in [(4, 3), (5, 3), (6, 2), (7, 4)]:
        x = rand(*shape)
        torch.testing.assert_close(compiled(x), f(X=x))
    assert counters["stats"]["unique_graphs"] == 1
    no_graph_breaks()


def test_a_program_made_after_torch_settles_the_tracer_check_first():
    """Dynamo guards on the `tracing.active` it read: were that still the stand-in used
    before torch is imported, the first compiled call's graph would be compiled twice."""
    code = (
        "import torch, tensorc as tc, tensorc.tracing as t\n"
        "tc.compile('y[i] = x[i] * 2', backend='torch')\n"
        "assert t.active is not t._until_imported\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


POOL_LOSS = (
    "P[n, c, y, x] = max[p, q](X[n, c, 2*y + p, 2*x + q])\n"
    "L = sum[n, c, y, x](P[n, c, y, x] * G[n, c, y, x])"
)


def test_a_pool_derivative_is_one_graph_with_dynamic_sizes():
    """`_pool_derivative` (issue 13) traces whole with symbolic sizes (the window's size, which
    follows from X's and G's shapes, is specialised)."""
    gradient = tc.grad(POOL_LOSS, wrt=("X",), backend="torch")
    compiled = torch.compile(
        lambda x, g: gradient(X=x, G=g), fullgraph=True, backend="aot_eager", dynamic=True
    )
    for n, h in [(2, 6), (3, 8), (4, 10)]:
        x, g = rand(n, 3, h, h).round(decimals=1), rand(n, 3, h // 2, h // 2)  # with ties
        torch.testing.assert_close(compiled(x, g), gradient(X=x, G=g))
    no_graph_breaks()


def test_a_pool_derivative_exports_with_a_dynamic_batch():
    gradient = tc.grad(POOL_LOSS, wrt=("X",), backend="torch")

    class Model(torch.nn.Module):
        def forward(self, x, g):
            return gradient(X=x, G=g)

    batch = torch.export.Dim("batch", max=64)
    example = (rand(2, 3, 6, 6), rand(2, 3, 3, 3))
    exported = torch.export.export(Model(), example, dynamic_shapes=({0: batch}, {0: batch}))
    x, g = rand(5, 3, 6, 6).round(decimals=1), rand(5, 3, 3, 3)
    torch.testing.assert_close(exported.module()(x, g), gradient(X=x, G=g))


@pytest.mark.parametrize("offsets", [2, 3])
def test_a_window_size_given_by_keyword_under_dynamic_shapes(offsets):
    """A size the shapes would also give (here 3: X is 9 wide, G 4) may be given smaller by
    keyword; the generic function takes it rather than failing on an unexpected keyword."""
    gradient = tc.grad(POOL_LOSS, wrt=("X",), backend="torch")
    compiled = torch.compile(
        lambda x, g: gradient(X=x, G=g, p=offsets, q=offsets),
        fullgraph=True,
        backend="aot_eager",
        dynamic=True,
    )
    for n, width in [(2, 9), (3, 11)]:
        x, g = rand(n, 2, width, width), rand(n, 2, 4, 4)
        want = gradient(X=x, G=g, p=offsets, q=offsets)
        torch.testing.assert_close(compiled(x, g), want)
        assert bool((want[0][..., 8] == 0).all()) == (offsets == 2)  # column 8: in no window?
    no_graph_breaks()


def test_a_size_read_off_a_shape_may_also_be_given_under_dynamic_shapes():
    f = fresh(MATMUL)
    compiled = torch.compile(
        lambda a, b: f(A=a, B=b, i=a.shape[0]), fullgraph=True, backend="aot_eager", dynamic=True
    )
    for rows, width in [(3, 5), (6, 2)]:
        a, b = rand(rows, 4), rand(4, width)
        torch.testing.assert_close(compiled(a, b), a @ b)
    no_graph_breaks()


def test_every_trace_checks_the_sizes_it_gives():
    """One generic plan serves every trace that gives the same keywords; each trace checks
    its own values against the shapes (a second trace read 8 values of a 9-long x with a
    3-long w, padding with zeros, and a wrong `i` was dropped)."""
    conv = fresh(CONV)
    f = torch.compile(lambda x, w, i: conv(x, w, i=i), backend="aot_eager", dynamic=True)
    x, w = rand(9), rand(3)
    torch.testing.assert_close(f(x, w, 5), conv(x, w, i=5))
    with pytest.raises(tc.ShapeError, match="reads outside"):
        f(x, w, 8)
    matmul = fresh(MATMUL)
    g = torch.compile(lambda a, b, extra: matmul(A=a, B=b, i=a.shape[0] + extra), dynamic=True)
    a, b = rand(3, 4), rand(4, 5)
    torch.testing.assert_close(g(a, b, 0), a @ b)
    with pytest.raises(tc.ShapeError, match="'i' has size 4 from the keyword"):
        g(a, b, 1)


def test_shapes_refused_while_tracing_raise_a_shape_error():
    """Where dynamo cannot record the call as one (planning refused the shapes), it breaks
    the graph and runs the call, tracing its frames: that handed the call over again and
    again, until a RecursionError."""
    f = torch.compile(fresh(MATMUL), backend="aot_eager")
    with pytest.raises(tc.ShapeError, match="index 'j' has size 4 in A but size 5 in B"):
        f(rand(3, 4), rand(5, 2))
    g = torch.compile(lambda a, b: tc.einsum("ij,jk->ik", a, b), backend="aot_eager")
    with pytest.raises(tc.ShapeError, match="'j' has size 4 in operand 0 but size 5"):
        g(rand(3, 4), rand(5, 2))
