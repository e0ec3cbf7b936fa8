"""Splits products of three or more tensors into pairwise contractions, in the cheapest order.

The order is opt_einsum's: by default its exhaustive searches for a few factors and its greedy
path beyond; einsum's `optimize=` names another of its strategies, or gives the path itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Union

import opt_einsum

from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, ellipsis_first, in_order
from tensorc.ir.shapes import Sizes

NOMINAL_SIZE = 64  # the size assumed for every index when planning before shapes are known
SEARCHED_FACTORS = 16  # products of more factors than this take the greedy path
AUTO = "auto"  # tensorc's own choice: opt_einsum's `auto-hq` for a few factors, `greedy` beyond

# An opt_einsum strategy name, or an explicit path: steps of positions in the list of factors,
# each step's result appended at the end (numpy's and opt_einsum's convention).
Strategy = Union[str, tuple[tuple[int, ...], ...]]  # noqa: UP007 - a runtime alias on 3.10


@dataclass(frozen=True)
class PlanContractions:
    """The planning pass with a chosen strategy and memory limit (in elements), as einsum's
    `optimize=` asks; hashable, so that programs planned alike share the compile cache."""

    strategy: Strategy = AUTO
    memory_limit: int | None = None

    def __call__(self, program: ir.Program, sizes: Sizes) -> ir.Program:
        return plan_contractions(program, sizes, self.strategy, self.memory_limit)


def plan_contractions(
    program: ir.Program, sizes: Sizes, strategy: Strategy = AUTO, memory_limit: int | None = None
) -> ir.Program:
    """Each Contract of 3+ tensors becomes nested 2-tensor Contracts along opt_einsum's path
    (optimal for few operands, its `auto` choices beyond), with the path's report attached.
    An explicit path applies to a Contract with exactly the factors it contracts."""
    return ir.rewrite_program(program, lambda node: _plan(node, sizes, strategy, memory_limit))


def path_operands(path: tuple[tuple[int, ...], ...]) -> int:
    """How many operands an explicit path contracts into one."""
    return 1 + sum(len(step) - 1 for step in path)


def _plan(
    node: ir.Node, sizes: Sizes, strategy: Strategy, memory_limit: int | None
) -> ir.Node | None:
    if not isinstance(node, ir.Contract):
        return None
    if isinstance(strategy, tuple):  # the path numbers every factor, scalars included
        if len(node.factors) < 2 or path_operands(strategy) != len(node.factors):
            return None
        tensors, scalars = list(node.factors), []
        search: str | list[tuple[int, ...]] = list(strategy)
    else:
        tensors = [f for f in node.factors if f.indices]
        scalars = [f for f in node.factors if not f.indices]
        if len(tensors) < 3:
            return None
        # auto-hq searches (optimal, then branch and bound) pay off for a few dozen factors;
        # past that the greedy path is found in linear time and is what opt_einsum itself
        # falls back to.
        search = strategy
        if strategy == AUTO:
            search = "auto-hq" if len(tensors) <= SEARCHED_FACTORS else "greedy"
    tensors = _presum_private_indices(tensors, node.labels)
    labels = list(dict.fromkeys(label for f in tensors for label in f.indices))
    symbol = {label: opt_einsum.get_symbol(k) for k, label in enumerate(labels)}
    equation = ",".join("".join(symbol[i] for i in f.indices) for f in tensors)
    equation += "->" + "".join(symbol[i] for i in node.labels)
    shapes = [tuple(_size(label, sizes) for label in f.indices) for f in tensors]
    path, info = opt_einsum.contract_path(
        equation, *shapes, shapes=True, optimize=search, memory_limit=memory_limit
    )
    operands: list[ir.Node] = list(tensors)
    steps = []
    for step, contraction in zip(path, info.contraction_list, strict=True):
        chosen = [operands[k] for k in step]
        for k in sorted(step, reverse=True):
            del operands[k]
        later = {label for f in operands for label in f.indices} | set(node.labels)
        present = [label for f in chosen for label in f.indices]
        keep = _ordered([label for label in present if label in later], labels)
        operands.append(ir.Contract(tuple(chosen), keep))
        steps.append(contraction[2])
    result = operands[0]
    report = ir.PathReport(
        equation=_in_user_names(equation, symbol),
        naive_flops=float(info.naive_cost),
        optimized_flops=float(info.opt_cost),
        largest_intermediate=float(info.largest_intermediate),
        steps=tuple(_in_user_names(step, symbol) for step in steps),
    )
    assert isinstance(result, ir.Contract)
    return ir.Contract(result.factors + tuple(scalars), node.labels, report)


def _in_user_names(equation: str, symbol: dict[str, str]) -> str:
    """An opt_einsum equation in the program's index names: `ab,bc->ac` becomes
    `[i,j],[j,k]->[i,k]` (plain letters stay as they are when every index is one letter)."""
    label = {letter: name for name, letter in symbol.items()}
    single = all(len(name) == 1 and name.isalpha() for name in symbol)

    def spell(term: str) -> str:
        names = [label.get(letter, letter) for letter in term]
        return "".join(names) if single else "[" + ",".join(names) + "]"

    inputs, _, output = equation.partition("->")
    return ",".join(spell(term) for term in inputs.split(",")) + "->" + spell(output)


def _size(label: str, sizes: Sizes) -> int:
    if label == ELLIPSIS:
        return prod(sizes.ellipsis) if sizes.of else NOMINAL_SIZE
    return sizes.of.get(label, NOMINAL_SIZE)


def _ordered(labels: list[str], reading: list[str]) -> tuple[str, ...]:
    """An intermediate's labels in the order the product first mentions them (the ellipsis
    first): `A[i,j] * B[j,k] * C[k,l]` keeps `B·C` as [j, l], which `A @ (B·C)` takes as is."""
    return ellipsis_first(in_order(labels, reading))


def _presum_private_indices(tensors: list[ir.Node], output: tuple[str, ...]) -> list[ir.Node]:
    """Sums each index that only one factor has (and the output lacks) inside that factor,
    so that the planner never carries it into an intermediate."""
    counts: dict[str, int] = {}
    for factor in tensors:
        for label in set(factor.indices):
            counts[label] = counts.get(label, 0) + 1
    summed = []
    for factor in tensors:
        kept = tuple(
            label
            for label in factor.indices
            if counts[label] > 1 or label in output or label == ELLIPSIS
        )
        summed.append(factor if kept == factor.indices else ir.Reduce("sum", factor, kept))
    return summed
