"""Derivatives of tensorc programs, as tensorc programs.

`grad`, `vjp` and `jvp` differentiate the program source to source: the derivative is a new
tensorc program (`f.text`) that computes the primal values and then the adjoints (reverse
mode) or the tangents (forward mode). It is compiled like any other program, so it goes
through the same passes and backends, and its generated module (`f.source`) can be read.

    f = tc.grad("L = sum[i](x[i] * y[i])", wrt="x")
    print(f.text)    # L = sum[i](x[i] * y[i]) / dL = L ** 0 / dx[i] = dL * y[i] / return dx
    f(x, y)          # the gradient, on the arguments' backend
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from tensorc import backends, compiler
from tensorc.arguments import bind, shape_of
from tensorc.autodiff import expr as ex
from tensorc.autodiff.forward import Forward
from tensorc.autodiff.program import Program as Prepared
from tensorc.autodiff.program import check_wrt, prepare
from tensorc.autodiff.reverse import Gradient, Reverse
from tensorc.autodiff.standardised import hoist
from tensorc.errors import TensorcError
from tensorc.frontend import ast, parse_einsum, parse_program, unparse
from tensorc.frontend.parser import ast_depth
from tensorc.ir.nodes import display_name
from tensorc.passes import PASSES, Pass
from tensorc.runtime import Program, compile_program

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11; only read by type checkers

Wrt = str | Sequence[str]


class Options(TypedDict, total=False):
    """What `grad`, `vjp` and `jvp` take by keyword: the passes to run (all of them unless
    told), `einsum=True` to read `source` as einsum subscripts, and `mesh` and `shard` as
    `tc.compile` takes them (derivatives are laid out as their primals)."""

    passes: Sequence[Pass] | None
    einsum: bool
    mesh: Any
    shard: Mapping[str, str | Sequence[str]] | None


def grad(
    source: str, wrt: Wrt, backend: str | None = None, **options: Unpack[Options]
) -> Derivative:
    """The gradient of a program that returns one scalar, with respect to the input(s) `wrt`:
    a compiled function of the program's inputs returning d result / d wrt (a tuple when
    `wrt` is a tuple)."""
    return _derivative("grad", source, wrt, backend, **options)


def vjp(
    source: str, wrt: Wrt, backend: str | None = None, **options: Unpack[Options]
) -> Derivative:
    """Reverse mode for any program: a compiled function of the program's inputs followed by
    one cotangent per returned value (named `d<output>`, shaped like it), returning the
    cotangents of the `wrt` inputs: sum(output * cotangent) differentiated."""
    return _derivative("vjp", source, wrt, backend, **options)


def jvp(
    source: str, wrt: Wrt, backend: str | None = None, **options: Unpack[Options]
) -> Derivative:
    """Forward mode: a compiled function of the program's inputs followed by one tangent per
    `wrt` input (named `d<input>`), returning (outputs, output tangents), each a tuple when
    the program returns a tuple."""
    return _derivative("jvp", source, wrt, backend, **options)


def _derivative(
    mode: str,
    source: str,
    wrt: Wrt,
    backend: str | None,
    passes: Sequence[Pass] | None = PASSES,
    einsum: bool = False,
    mesh: Any = None,
    shard: Mapping[str, str | Sequence[str]] | None = None,
) -> Derivative:
    compiler.check_backend(backend)
    if not isinstance(source, str):
        raise TensorcError(f"a program is a str, not {type(source).__name__}")
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt) if _is_names(wrt) else None
    if names is None:
        raise TensorcError("wrt is an input name or a tuple of input names")
    plan = derive(source, names, mode, einsum)
    # the user's program was linted; its indices name the derivative's axes too
    program = compile_program(plan.text, backend, passes, lint=False, mesh=mesh, shard=shard)
    return Derivative(plan, program, isinstance(wrt, str))


def _is_names(wrt: object) -> bool:
    return isinstance(wrt, Sequence) and all(isinstance(name, str) for name in wrt)


@dataclass(frozen=True)
class Plan:
    """A derivative program and how to call it."""

    mode: str
    text: str  # the derivative as tensorc program text
    signature: tuple[str, ...]  # the inputs of the returned function, in order
    returned: tuple[str, ...]  # what the derivative program returns
    outputs: tuple[str, ...]  # the user's names of the original program's results
    tuple_output: bool
    gradients: tuple[Gradient, ...] = ()  # reverse mode: where each gradient is


@functools.lru_cache(maxsize=256)
def derive(source: str, wrt: tuple[str, ...], mode: str, einsum: bool = False) -> Plan:
    """Differentiates program text (or einsum subscripts) into a derivative program."""
    lowered = compiler.front_end(source, einsum)  # every error a program can have, first
    tree = parse_einsum(source) if einsum else parse_program(source)
    compiler.allow_recursion(ast_depth(tree))
    try:
        program = prepare(tree, lowered)
        names = check_wrt(program, wrt)
        if mode == "jvp":
            return _forward(program, names)
        return _reverse(program, names, mode)
    except RecursionError:
        raise TensorcError("the program is nested too deeply to differentiate") from None


def _reverse(program: Prepared, wrt: tuple[str, ...], mode: str) -> Plan:
    program, standardised = hoist(program)  # a layer norm's derivative in closed form
    builder = Reverse(program, wrt, standardised)
    outputs = program.outputs
    seeds: list[tuple[str, ast.Expr]] = []
    cotangents: list[str] = []
    if mode == "grad":
        if len(outputs) != 1:
            raise TensorcError(
                f"tc.grad needs a program that returns one scalar, but it returns "
                f"{len(outputs)} values: use tc.vjp"
            )
        labels = _labels(builder, outputs[0])
        if labels:
            shown = unparse.target(display_name(program.output_names[0]), labels)
            raise TensorcError(
                f"tc.grad needs a scalar result, but the program returns {shown}: "
                "use tc.vjp, which takes a cotangent for it"
            )
        seeds.append((outputs[0], ex.number(1)))  # takes the dtype of what it meets
        heading = f"gradient of {program.output_names[0]}"
    else:
        for name, user_name in zip(outputs, program.output_names, strict=True):
            cotangent = program.names.claim(f"d{user_name}")
            cotangents.append(cotangent)
            seeds.append((name, _read(cotangent, _labels(builder, name))))
        heading = "reverse mode (vector-Jacobian product)"
    gradients = builder.run(seeds)
    returned = tuple(name for gradient in gradients for name in gradient.results)
    comments = [
        f"# {heading} with respect to {', '.join(wrt)}: dX is the derivative with respect to X.",
        "# `x ** 0` is 1 in x's dtype; tied maxima share the derivative, as in JAX.",
    ]
    text = "\n".join([*comments, *builder.lines, f"return {', '.join(returned)}"]) + "\n"
    return Plan(
        mode=mode,
        text=text,
        signature=(*program.inputs, *cotangents),
        returned=returned,
        outputs=tuple(f"d{name}" for name in wrt),
        tuple_output=program.tuple_output,
        gradients=tuple(gradients),
    )


def _forward(program: Prepared, wrt: tuple[str, ...]) -> Plan:
    tangents = {name: program.names.claim(f"d{name}") for name in wrt}
    builder = Forward(program, wrt, tangents)
    results = builder.run()
    returned = (*program.outputs, *results)
    comments = [
        f"# forward mode (Jacobian-vector product) along tangents of {', '.join(wrt)}:",
        "# dX is the tangent of X. `x ** 0` is 1 in x's dtype.",
    ]
    text = "\n".join([*comments, *builder.lines, f"return {', '.join(returned)}"]) + "\n"
    names = tuple(display_name(name) for name in program.output_names)
    return Plan(
        mode="jvp",
        text=text,
        signature=(*program.inputs, *tangents.values()),
        returned=returned,
        outputs=(*names, *(f"d{name}" for name in names)),
        tuple_output=program.tuple_output,
    )


def _labels(builder: Reverse, name: str) -> tuple[str, ...] | None:
    statement = builder.program.defining(name)
    if statement is not None:
        return statement.labels
    if name in builder.program.scalars:
        return None
    return builder.canonical(name)[0]


def _read(name: str, labels: tuple[str, ...] | None) -> ast.Expr:
    return ex.name(name) if labels is None else ex.access(name, labels)


class Derivative:
    """A compiled derivative: call it like a compiled program; read `text` (the derivative as
    a tensorc program), `source` (its generated module) and `ir`."""

    def __init__(self, plan: Plan, program: Program, single: bool):
        self.plan = plan
        self.program = program
        self._single = single
        self._order = tuple(plan.signature.index(name) for name in program.inputs)
        self._post = any(g.batched or g.has_ellipsis for g in plan.gradients)
        self._direct = (  # the program's own call returns what this one does
            plan.mode == "grad"
            and not self._post
            and program.inputs == plan.signature
            and (single or len(plan.returned) > 1)
        )

    @property
    def text(self) -> str:
        return self.plan.text

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def ir(self) -> str:
        return self.program.ir

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.plan.signature

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.plan.outputs

    @property
    def backend(self) -> str | None:
        return self.program.backend

    def source_for(self, /, *args: Any, **kwargs: Any) -> str:
        values, sizes = self._bind(args, kwargs)
        return self.program.source_for(*self._positional(values), **sizes)

    def ir_for(self, /, *args: Any, **kwargs: Any) -> str:
        values, sizes = self._bind(args, kwargs)
        return self.program.ir_for(*self._positional(values), **sizes)

    def __repr__(self) -> str:
        return (
            f"<tensorc.Derivative {self.plan.mode} ({', '.join(self.inputs)}) -> "
            f"{', '.join(self.outputs)} on {self.backend or 'any backend'}>"
        )

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if self._direct and not kwargs:
            return self.program(*args)
        values, sizes = self._bind(args, kwargs)
        raw = self.program(*self._positional(values), **sizes)
        results = raw if len(self.plan.returned) > 1 else (raw,)
        got = dict(zip(self.plan.returned, results, strict=True))
        if self.plan.mode == "jvp":
            count = len(results) // 2
            outputs, tangents = results[:count], results[count:]
            if self.plan.tuple_output:
                return tuple(outputs), tuple(tangents)
            return outputs[0], tangents[0]
        gradients = tuple(self._gradient(g, got, values) for g in self.plan.gradients)
        return gradients[0] if self._single else gradients

    def _gradient(self, where: Gradient, got: dict[str, Any], values: dict[str, Any]) -> Any:
        shape = shape_of(values[where.input])
        total = None
        if where.plain is not None:
            total = got[where.plain]
            if where.has_ellipsis:
                total = unbroadcast(total, shape, where.before, where.after)
        if where.batched is not None:
            summed = unbroadcast(got[where.batched], shape, 0, where.after)
            total = summed if total is None else total + summed
        return total

    def _positional(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in self.program.inputs]

    def _bind(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return bind(self.plan.signature, args, kwargs)


def unbroadcast(value: Any, shape: tuple[int, ...], before: int, after: int) -> Any:
    """Sums a gradient over the batch axes along which its input was broadcast: the extra
    leading batch axes, and those where the input has size 1. `before` and `after` count the
    axes around the batch axes, which are the same in both."""
    have = tuple(int(n) for n in value.shape)
    if have == tuple(shape):
        return value
    batch = have[before : len(have) - after]
    wanted = shape[before : len(shape) - after]
    lead = len(batch) - len(wanted)
    ones = tuple(before + lead + k for k, n in enumerate(wanted) if n == 1 and batch[lead + k] != 1)
    if ones:
        value = _sum(value, ones, keepdims=True)
    if lead:
        value = _sum(value, tuple(range(before, before + lead)), keepdims=False)
    return value


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """A sum in the dialect of the array's own backend (NumPy's for anything else)."""
    owner = backends.owner(value) or backends.backend(backends.DEFAULT)
    return owner.sum(value, axes, keepdims)


__all__ = ["Derivative", "Plan", "derive", "grad", "jvp", "unbroadcast", "vjp"]
