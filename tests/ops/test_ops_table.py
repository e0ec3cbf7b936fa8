"""The operation table (`tensorc.ops`): consistent in itself, and covered by every backend, so
that an operation without a spelling fails here rather than in a user's program."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tensorc import ops
from tensorc.backends import BACKENDS
from tensorc.codegen import Generator
from tensorc.ops import ELEMENTWISE, OPS, TABLE, Kind

GENERATORS = [backend.generator for backend in BACKENDS.values()]


def printed_by_backends() -> set[str]:
    """The operations a backend must spell: all but those Python writes as operators."""
    return {op.name for op in TABLE if op.infix is None or not op.infix.python}


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda g: g.__name__)
def test_every_backend_spells_every_operation(generator: type[Generator]) -> None:
    missing = printed_by_backends() - set(generator.spellings)
    assert not missing, f"{generator.__name__} has no spelling for {sorted(missing)}"
    unknown = set(generator.spellings) - set(OPS)
    assert not unknown, f"{generator.__name__} spells operations the table lacks: {unknown}"


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda g: g.__name__)
def test_every_helper_a_spelling_calls_exists(generator: type[Generator]) -> None:
    for op, spelling in generator.spellings.items():
        callee = spelling.split("(", 1)[0]
        if callee.startswith("_"):
            assert callee in generator.helpers, f"{op}: {callee} is not a helper"


def test_names_are_unique_and_lookups_find_each_operation() -> None:
    assert len(OPS) == len(TABLE)
    for op in TABLE:
        if op.kind is Kind.FUNCTION:
            assert ops.function(op.spelling) is op
        elif op.kind in (Kind.REDUCTION, Kind.NORMALISER):
            assert ops.along(op.spelling) is op
        else:
            assert ops.operator(op.spelling, op.arity) is op
    assert ops.function("max") is OPS["maximum"]
    assert ops.along("max") is OPS["max"]
    assert ops.operator("-", 1) is OPS["neg"] and ops.operator("-", 2) is OPS["sub"]
    assert ops.function("nope") is None and ops.along("exp") is None


def test_every_elementwise_operation_folds_and_takes_its_arity() -> None:
    for op in TABLE:
        assert len(op.operands) == op.arity, op.name
        if op.kind in ELEMENTWISE:
            assert op.fold is not None, f"{op.name} cannot be constant-folded"
            value = op.fold(*[0.5] * op.arity)
            assert isinstance(float(value), float)
        else:
            assert op.arity == 1, op.name


def test_operators_print_with_their_symbol() -> None:
    for op in TABLE:
        if op.kind in (Kind.OPERATOR, Kind.COMPARISON):
            assert op.infix is not None and op.infix.symbol == op.spelling
    assert OPS["neg"].infix is not None and OPS["neg"].infix.write(["x"]) == "-x"
    assert OPS["add"].infix is not None and OPS["add"].infix.write(["a", "b"]) == "a + b"


def test_every_operation_has_a_derivative_rule() -> None:
    """A rule for each entry; `zero(n)` marks a derivative that is zero (steps, booleans)."""
    from tensorc.autodiff.rules import RULES

    missing = set(OPS) - set(RULES)
    assert not missing, f"no derivative rule for {sorted(missing)}"
    assert not set(RULES) - set(OPS), "a rule for an operation the table lacks"
    for op in TABLE:
        if op.kind in ELEMENTWISE and op.name not in ("mul", "div"):
            assert len(RULES[op.name].zero) <= op.arity, op.name


def test_the_language_reference_lists_every_operation() -> None:
    """docs/language.md names every spelling in code (`...`), so a new entry is documented."""
    docs = (Path(__file__).parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    inline = re.sub(r"```.*?```", "", docs, flags=re.DOTALL)
    code = " ".join(re.findall(r"`([^`]+)`", inline))
    for op in TABLE:
        if op.spelling.isidentifier():
            assert re.search(rf"\b{op.spelling}\b", code), f"{op.spelling} is not in the docs"
        else:
            assert op.spelling in code, f"{op.spelling} is not in the docs"
