"""torch.compile over the whole equivalence corpus: no program breaks dynamo's graph.

A compiled tensorc function generates its code on the first call with new shapes (with
`exec`, which dynamo cannot trace), so each program is called once before it is traced."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch._dynamo as dynamo

from tensorc.runtime import compile_program

sys.path.insert(0, str(Path(__file__).parents[1] / "equivalence"))
from corpus import CASES


def test_no_program_of_the_corpus_breaks_the_graph():
    broken = {}
    for case in CASES:
        values = case.make_inputs()
        args = [torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in values.values()]
        program = compile_program(case.src, "torch", einsum=case.einsum)
        program(*args, **case.sizes)  # make the plan outside the trace
        dynamo.reset()
        explained = dynamo.explain(program)(*args, **case.sizes)
        # A program without tensor operations (an identity) makes no graph: count -1.
        if explained.graph_break_count > 0 or explained.break_reasons:
            broken[case.id] = [str(reason.reason) for reason in explained.break_reasons]
    assert not broken, broken


@pytest.mark.parametrize("case", CASES[::40], ids=lambda case: case.id)
def test_fullgraph_compiled_programs_give_the_eager_answer(case):
    values = case.make_inputs()
    args = [torch.as_tensor(v) if isinstance(v, np.ndarray) else v for v in values.values()]
    program = compile_program(case.src, "torch", einsum=case.einsum)
    eager = program(*args, **case.sizes)
    dynamo.reset()
    compiled = torch.compile(program, fullgraph=True, backend="eager")(*args, **case.sizes)
    for got, want in zip(
        compiled if isinstance(compiled, tuple) else (compiled,),
        eager if isinstance(eager, tuple) else (eager,),
        strict=True,
    ):
        torch.testing.assert_close(got, want, equal_nan=True)
