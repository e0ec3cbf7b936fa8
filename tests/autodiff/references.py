"""References for derivatives of corpus cases: jax.vjp / jax.jvp of the jax-backend function,
torch.autograd of the torch-backend function, and central differences of the hand-written
NumPy reference (float64)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch
from corpus import GRAD_CASES, Case

import tensorc as tc
from tensorc import backends
from tensorc.frontend import parse_program
from tensorc.ir.nodes import ELLIPSIS

RTOL, ATOL = 1e-9, 1e-11

# JAX compiles every function it runs (about 0.2 s each), so the checks against jax.vjp and
# jax.jvp, and of the jax-backend derivatives, run on a representative subset: these cases,
# and every sixth other one. TENSORC_AUTODIFF_FULL=1 runs them all.
JAX_CASES = {
    "matmul",
    "softmax",
    "log-softmax",
    "cumsum",
    "prod",
    "max-masked",
    "min-reduce",
    "layer-norm",
    "layer-norm-closed-form",
    "layer-norm-closed-form-inline",
    "layer-norm-closed-form-power",
    "layer-norm-closed-form-ellipsis",
    "group-norm-closed-form",
    "standardise-closed-form",
    "attention",
    "causal-attention",
    "multi-head-attention-composed",
    "split-axes",
    "pixel-shuffle",
    "return-tuple",
    "scalar-alpha",
    "baddbmm",
    "trace-einstein",
    "batched-diagonal",
    "ellipsis-bmm-broadcast",
    "ellipsis-bias",
    "ellipsis-middle",
    "sigmoid-bce",
    "cross-entropy",
    "clip",
    "fn-clip",
    "op-floordiv-mod-identity",
    "reduce-std-in-layer-norm",
    "norm-log-softmax-first-axis-broadcast",
    "norm-cumprod",
    "power-tensor-exponent",
    "cosine-similarity",
    "einsum-users:bii->bi",
    "einsum-users:...ij,...jk->...ik",
}


# Every registered backend whose framework is installed, and those that run every case (all
# but JAX, which runs the subset above).
BACKENDS = tuple(name for name, record in backends.BACKENDS.items() if record.installed())
EVERY_CASE = tuple(name for name in BACKENDS if name != "jax")


def on_jax(position: int, case: Case) -> bool:
    return (
        bool(os.environ.get("TENSORC_AUTODIFF_FULL")) or case.id in JAX_CASES or position % 6 == 0
    )


def as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def to_backend(value: Any, backend: str) -> Any:
    """A NumPy array as an unshared copy in `backend`'s arrays; Python numbers as they are."""
    if isinstance(value, bool | int | float):
        return value
    return backends.backend(backend).from_numpy(np.array(np.asarray(value), copy=True))


def to_numpy(value: Any) -> np.ndarray:
    found = backends.owner(value)
    return np.asarray(value) if found is None else found.to_numpy(value)


def wrt_names(case: Case) -> tuple[str, ...]:
    """The inputs to differentiate: the float ones (einsum operands are x0, x1, ...)."""
    if case.einsum:
        positions = {name: k for k, name in enumerate(case.inputs)}
        return tuple(f"x{positions[name]}" for name in case.float_inputs)
    return tuple(case.float_inputs)


def random_like(case: Case, salt: str, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(f"{salt}:{case.id}".encode()))
    return [np.asarray(rng.standard_normal(shape)) for shape in shapes]


def cotangents(case: Case, values: dict[str, Any]) -> list[np.ndarray]:
    """Random cotangents, zero where the output is not finite (a -inf of a causal mask)."""
    outputs = [np.asarray(o) for o in as_tuple(case.expected(values))]
    found = random_like(case, "cotangent", [o.shape for o in outputs])
    return [np.where(np.isfinite(o), c, 0.0) for o, c in zip(outputs, found, strict=True)]


def tangents(case: Case, values: dict[str, Any]) -> list[Any]:
    shapes = [np.shape(values[name]) for name in case.float_inputs]
    found = random_like(case, "tangent", shapes)
    return [
        float(t) if isinstance(values[name], float) else t
        for name, t in zip(case.float_inputs, found, strict=True)
    ]


def primal(case: Case, backend: str, values: dict[str, Any]) -> Callable[..., Any]:
    """The compiled program as a function of its float inputs (the others fixed)."""
    names = case.float_inputs
    fixed = {name: to_backend(value, backend) for name, value in values.items()}
    program = None if case.einsum else tc.compile(case.src, backend=backend)

    def function(*diff: Any) -> Any:
        current = dict(fixed)
        current.update(zip(names, diff, strict=True))
        if program is None:
            return tc.einsum(case.src, *current.values(), backend=backend)
        return program(*current.values(), **case.sizes)

    return function


def jax_vjp(case: Case, values: dict[str, Any], cots: list[np.ndarray]) -> list[np.ndarray]:
    args = [jnp.asarray(values[name]) for name in case.float_inputs]
    out, pullback = jax.vjp(primal(case, "jax", values), *args)
    given = tuple(jnp.asarray(c) for c in cots) if isinstance(out, tuple) else jnp.asarray(cots[0])
    return [np.asarray(g) for g in pullback(given)]


def jax_jvp(case: Case, values: dict[str, Any], tans: list[Any]) -> tuple[Any, Any]:
    args = tuple(jnp.asarray(values[name]) for name in case.float_inputs)
    return jax.jvp(primal(case, "jax", values), args, tuple(jnp.asarray(t) for t in tans))


def torch_vjp(case: Case, values: dict[str, Any], cots: list[np.ndarray]) -> list[np.ndarray]:
    args = [
        torch.tensor(np.asarray(values[name]), dtype=torch.float64, requires_grad=True)
        for name in case.float_inputs
    ]
    out = primal(case, "torch", values)(*args)
    loss = sum((o * torch.from_numpy(c)).sum() for o, c in zip(as_tuple(out), cots, strict=True))
    assert isinstance(loss, torch.Tensor)
    grads = torch.autograd.grad(loss, args, allow_unused=True)
    return [
        np.zeros(tuple(a.shape)) if g is None else to_numpy(g)
        for a, g in zip(args, grads, strict=True)
    ]


def finite_differences(
    case: Case, values: dict[str, Any], cots: list[np.ndarray], h: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of sum(reference output * cotangent), in float64."""

    def loss(current: dict[str, Any]) -> float:
        outputs = [np.asarray(o) for o in as_tuple(case.expected(current))]
        return float(
            sum(
                np.sum(np.where(np.isfinite(o), o, 0.0) * c)
                for o, c in zip(outputs, cots, strict=True)
            )
        )

    grads = []
    for name in case.float_inputs:
        base = np.array(values[name], dtype=np.float64)
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            for sign in (+1, -1):
                bumped = base.copy()
                bumped[index] += sign * h
                current = dict(values)
                current[name] = bumped if base.ndim else float(bumped)
                grad[index] += sign * loss(current) / (2 * h)
        grads.append(grad)
    return grads


def loss_program(case: Case) -> tuple[str, list[str]] | None:
    """The case's program extended by `loss = sum[...](Y[...] * dY[...]) + ...` over its
    results (a scalar, for tc.grad), and the names of the cotangent inputs; None where a
    result has '...' axes (the language cannot sum over them)."""
    if case.einsum:
        return None
    tree = parse_program(case.src)
    returned = (
        [tree.statements[-1].target]
        if tree.returns is None
        else [name.name for name in tree.returns.names]
    )
    axes: dict[str, list[str]] = {}
    for statement in tree.statements:
        labels = []
        for axis in statement.axes or ():
            if hasattr(axis, "names"):
                labels.append("(" + " ".join(axis.names) + ")")
            elif hasattr(axis, "name"):
                labels.append(axis.name)
            else:
                labels.append(ELLIPSIS)
        axes[statement.target] = labels
    terms, names = [], []
    for k, name in enumerate(returned):
        labels = axes.get(name)
        if labels is None or ELLIPSIS in labels:
            return None
        cotangent = f"cot{k}"
        names.append(cotangent)
        indices = [part for label in labels for part in label.strip("()").split()]
        read = f"[{', '.join(labels)}]" if labels else ""
        product = f"{name}{read} * {cotangent}{read}" if labels else f"{name} * {cotangent}"
        terms.append(f"sum[{', '.join(indices)}]({product})" if indices else product)
    statements = [statement.text for statement in tree.statements]
    return "\n".join([*statements, "loss_ = " + " + ".join(terms)]), names


CASE_PARAMS = [(position, case) for position, case in enumerate(GRAD_CASES)]
