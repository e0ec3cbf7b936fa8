"""Sharded programs on 8 simulated CPU devices, a 2 x 4 mesh ("data", "model"), in both mesh
axis modes. This module runs in a process of its own (test_devices.py starts it) whose
XLA_FLAGS ask for the devices before JAX starts; the rest of the suite has one device.

For each case of benchmarks/sharded_cases.py: the result equals the unsharded program's, the
output is laid out as its index list says, and the compiled HLO holds the collectives that
the hand-written sharded JAX holds (kind and count), which are those the program needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the benchmarks package

import jax
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

import tensorc as tc
from benchmarks.hlo import collectives
from benchmarks.sharded_cases import CASES, MLP, TRANSFORMER, Hand, ShardedCase
from benchmarks.sharding import CASE_NAMES

# What each program needs: a sum over a split index is one all-reduce (the MLP's second
# product, attention's output projection); layer norm over a split index all-reduces its
# mean and its variance; the rest is local.
NEEDED = {
    "sharded_bmm": {},
    "sharded_mlp": {"all-reduce": 1},
    "sharded_attention": {"all-reduce": 1},
    "sharded_layer_norm": {"all-reduce": 2},
    "sharded_conv": {},
    "sharded_transformer": {"all-reduce": 2},  # attention's output and the MLP's second product
}
MODES = {"explicit": AxisType.Explicit, "auto": AxisType.Auto}


def hand_for(mode: str) -> Hand:
    kind = MODES[mode]
    mesh = jax.make_mesh((2, 4), ("data", "model"), axis_types=(kind, kind))
    return Hand(mesh, kind == AxisType.Explicit)


def compiled_hlo(function: Any, hand: Hand, args: tuple[Any, ...]) -> str:
    with jax.set_mesh(hand.mesh):
        text: str = jax.jit(function).lower(*args).compile().as_text()
    return text


def counts(needed: dict[str, int]) -> dict[str, int]:
    return {kind: needed.get(kind, 0) for kind in collectives("")}


def test_there_are_eight_devices_and_the_benchmark_knows_every_case() -> None:
    assert len(jax.devices()) == 8
    assert tuple(case.name for case in CASES) == CASE_NAMES


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_sharded_program_matches_unsharded_and_hand_written(case: ShardedCase, mode: str) -> None:
    hand = hand_for(mode)
    args = case.placed(hand, case.sizes)
    f = tc.compile(case.source, backend="jax", mesh=hand.mesh, shard=case.shard)
    result = f(*args)
    unsharded = tc.compile(case.source, backend="jax")(*case.inputs(case.sizes))
    np.testing.assert_allclose(result, unsharded, rtol=1e-5, atol=1e-5)
    expected = NamedSharding(hand.mesh, P(*case.out))
    assert result.sharding.is_equivalent_to(expected, result.ndim), result.sharding
    ours = collectives(compiled_hlo(f.function_for(*args), hand, args))
    by_hand = collectives(compiled_hlo(case.hand_jitted(hand), hand, args))
    assert ours == by_hand == counts(NEEDED[case.name])


@pytest.mark.parametrize("mode", MODES)
def test_inputs_that_arrive_unsharded_are_laid_out(mode: str) -> None:
    hand = hand_for(mode)
    f = tc.compile(MLP.source, backend="jax", mesh=hand.mesh, shard=MLP.shard)
    result = f(*MLP.inputs(MLP.sizes))  # NumPy arrays, on no device yet
    assert result.sharding.is_equivalent_to(NamedSharding(hand.mesh, P(*MLP.out)), 3)


GRADIENTS = {  # the losses and the collectives of their gradients, as jax.grad has them
    "sharded_mlp": ("l = sum[b, n, d](Y[b, n, d] ** 2)", {"all-reduce": 3}),
    "sharded_transformer": ("l = sum[b, n, e](Y[b, n, e] ** 2)", {"all-reduce": 4}),
}


@pytest.mark.parametrize(  # the transformer's gradient in one mode: it compiles for long
    ("case", "mode"),
    [(MLP, "explicit"), (MLP, "auto"), (TRANSFORMER, "explicit")],
    ids=["mlp-explicit", "mlp-auto", "transformer-explicit"],
)
def test_gradients_are_laid_out_as_their_primals_with_the_hand_written_collectives(
    case: ShardedCase, mode: str
) -> None:
    hand = hand_for(mode)
    args = case.placed(hand, case.sizes)
    loss, needed = GRADIENTS[case.name]
    source = f"{case.source}\n{loss}"
    wrt = tc.compile(case.source).inputs
    grad = tc.grad(source, wrt=wrt, backend="jax", mesh=hand.mesh, shard=case.shard)
    found = grad(*args)
    expected = tc.grad(source, wrt=wrt, backend="jax")(*case.inputs(case.sizes))
    for got, want, arg in zip(found, expected, args, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert got.sharding.is_equivalent_to(arg.sharding, arg.ndim)
    body = case.hand(hand)
    by_hand = jax.grad(lambda *a: (body(*a) ** 2).sum(), argnums=tuple(range(len(args))))
    ours = collectives(compiled_hlo(grad.program.function_for(*args), hand, args))
    assert ours == collectives(compiled_hlo(by_hand, hand, args)) == counts(needed)


def test_a_size_that_the_mesh_axis_does_not_divide_is_refused() -> None:
    hand = hand_for("explicit")
    f = tc.compile(MLP.source, backend="jax", mesh=hand.mesh, shard=MLP.shard)
    x, w1, w2 = MLP.inputs({**MLP.sizes, "f": 30})
    with pytest.raises(
        tc.ShapeError, match=r"index 'f' has size 30, which mesh axis 'model' \(4\)"
    ):
        f(x, w1, w2)
