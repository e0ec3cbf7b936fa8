"""Passes: pure functions from IR to IR. `PASSES` is the optimising pipeline, in order;
`LOWERING` always runs after it, so that code generation sees only matmuls, never products."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tensorc.ir.nodes import Program
from tensorc.ir.shapes import Sizes
from tensorc.passes.contractions_to_matmul import contractions_to_matmul
from tensorc.passes.counts_to_sizes import counts_to_sizes
from tensorc.passes.drop_dead_statements import drop_dead_statements
from tensorc.passes.fold_constants import fold_constants
from tensorc.passes.fuse_attention import fuse_attention
from tensorc.passes.fuse_cross_entropy import fuse_cross_entropy
from tensorc.passes.fuse_normalisations import fuse_normalisations
from tensorc.passes.inline_constants import inline_constants
from tensorc.passes.one_hot_to_gather import one_hot_to_gather
from tensorc.passes.plan_contractions import plan_contractions
from tensorc.passes.recognise_kernels import recognise_kernels
from tensorc.passes.reductions_in_storage_order import reductions_in_storage_order
from tensorc.passes.share_common_subexpressions import share_common_subexpressions
from tensorc.passes.simplify_transposes import simplify_transposes
from tensorc.passes.stable_rewrites import stable_rewrites

Pass = Callable[[Program, Sizes], Program]

PASSES: tuple[Pass, ...] = (
    counts_to_sizes,
    inline_constants,
    fold_constants,
    stable_rewrites,
    one_hot_to_gather,
    fuse_cross_entropy,
    fuse_attention,
    fuse_normalisations,
    reductions_in_storage_order,
    share_common_subexpressions,
    drop_dead_statements,
    recognise_kernels,  # before the contraction passes: it reads whole products
    drop_dead_statements,  # again: a pool's derivative no longer adds to its zeros
    plan_contractions,
    share_common_subexpressions,  # again: the planned pairs of products may repeat
)

LOWERING: tuple[Pass, ...] = (
    fold_constants,  # also here, so that no program leaves Python to divide 1 by 0
    contractions_to_matmul,
    reductions_in_storage_order,  # again: the products that sums became are elementwise
    simplify_transposes,
)


def run(program: Program, sizes: Sizes, passes: Sequence[Pass] = PASSES) -> Program:
    """Applies `passes` in order."""
    for apply in passes:
        program = apply(program, sizes)
    return program
