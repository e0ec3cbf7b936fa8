"""torch.compile over the equivalence corpus: no program breaks dynamo's graph, cold.

Each program is compiled from a fresh source (a comment of its own appended), so that no
cache hides a failure of the first call, and traced without being called first. The default
run takes a representative subset (contractions, einsums, keyword sizes, Python numbers,
attention, norms, integers, several outputs); `TENSORC_COMPILE_FULL=1` takes the whole
corpus (about 8 minutes on two cores).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
import torch._dynamo as dynamo

from tensorc import runtime
from tensorc.runtime import compile_program

sys.path.insert(0, str(Path(__file__).parents[1] / "equivalence"))
from corpus import CASES

SUBSET = {
    "matmul",
    "split-axes",
    "softmax",
    "cumsum",
    "scalar-alpha",
    "layer-norm",
    "rms-norm",
    "causal-attention",
    "multi-head-attention-composed",
    "ellipsis-bmm-broadcast",
    "return-tuple",
    "index-value",
    "int-matmul",
    "gelu-tanh",
    "einsum-users:bhid,bhjd->bhij",
    "einsum-opt_einsum:abc,bdef,fghj,cem,mhk,ljk->adgl",
    "einsum-python-scalar-operand:,i->i",
}
SWEPT = CASES if os.environ.get("TENSORC_COMPILE_FULL") else [c for c in CASES if c.id in SUBSET]


def arguments(case):
    values = case.make_inputs()
    return [torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in values.values()]


def fresh(case):
    """The case's program, compiled from a source no cache has seen (einsums: their
    subscripts compiled anew, with the caches of einsum calls emptied)."""
    if case.einsum:
        sys.modules["tensorc.einsum"]._calls.clear()
        runtime.CACHE.entries.clear()
        return compile_program(case.src, "torch", einsum=True)
    return compile_program(f"{case.src}\n# fresh {uuid.uuid4().hex}", "torch")


def close(got, want):
    for g, w in zip(
        got if isinstance(got, tuple) else (got,),
        want if isinstance(want, tuple) else (want,),
        strict=True,
    ):
        torch.testing.assert_close(torch.as_tensor(g), torch.as_tensor(w), equal_nan=True)


@pytest.mark.parametrize("case", SWEPT, ids=lambda case: case.id)
def test_no_program_of_the_corpus_breaks_the_graph(case):
    args = arguments(case)
    dynamo.reset()
    explained = dynamo.explain(fresh(case))(*args, **case.sizes)
    # A program without tensor operations (an identity) makes no graph: count -1.
    assert explained.graph_break_count <= 0, [str(r.reason) for r in explained.break_reasons]
    assert not explained.break_reasons


@pytest.mark.parametrize("case", SWEPT, ids=lambda case: case.id)
@pytest.mark.parametrize("dynamic", [None, True], ids=["static", "dynamic"])
def test_fullgraph_compiled_programs_give_the_eager_answer(case, dynamic):
    args = arguments(case)
    eager = fresh(case)(*args, **case.sizes)
    dynamo.reset()
    compiled = torch.compile(fresh(case), fullgraph=True, backend="aot_eager", dynamic=dynamic)
    close(compiled(*args, **case.sizes), eager)


@pytest.mark.parametrize("case", SWEPT, ids=lambda case: case.id)
def test_programs_compute_on_the_inputs_device(case):
    """On the "meta" device (an accelerator's stand-in: a CPU tensor with axes cannot meet
    its tensors, and `.item()` fails on them) every output stays on the inputs' device."""
    args = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in arguments(case)]
    out = compile_program(case.src, "torch", einsum=case.einsum)(*args, **case.sizes)
    for value in out if isinstance(out, tuple) else (out,):
        assert torch.as_tensor(value).device.type == "meta"
