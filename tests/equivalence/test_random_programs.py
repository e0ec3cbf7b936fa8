"""Random well-formed tensorc programs, run on every backend against an independent oracle.

Each strategy builds the program text and, alongside it and from the same structure, the
NumPy value it must compute (``np.einsum`` with explicit letters, NumPy reductions and
broadcasting), so the oracle never looks at what tensorc does with the text.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from support import BACKENDS, assert_matches, convert_inputs

import tensorc as tc

LETTERS = "ijklmn"
RTOL = 1e-9
ATOL = 1e-10

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-x))


# (template, numpy function) pairs; every map is defined and smooth enough on all reals.
MAPS: list[tuple[str, Callable[[Any], Any]]] = [
    ("exp({})", np.exp),
    ("tanh({})", np.tanh),
    ("sigmoid({})", _sigmoid),
    ("abs({})", np.abs),
    ("relu({})", lambda x: np.maximum(x, 0.0)),
    ("({}) ** 2", np.square),
    ("-({})", np.negative),
    ("sqrt(1 + ({}) ** 2)", lambda x: np.sqrt(1 + x**2)),
    ("log(1 + abs({}))", lambda x: np.log(1 + np.abs(x))),
]
BOUNDED_MAPS = [
    m for m in MAPS if m[0] in {"tanh({})", "sigmoid({})", "abs({})", "-({})", "log(1 + abs({}))"}
]
BINOPS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("({} + {})", np.add),
    ("({} - {})", np.subtract),
    ("({} * {})", np.multiply),
    ("max({}, {})", np.maximum),
    ("min({}, {})", np.minimum),
    ("({} / (1 + ({}) ** 2))", lambda a, b: a / (1 + b**2)),
]
REDUCTIONS: dict[str, Callable[..., Any]] = {
    "sum": np.sum,
    "max": np.max,
    "min": np.min,
    "mean": np.mean,
    "prod": np.prod,
}


@dataclass
class Term:
    """A piece of program text, the index letters of its value's axes, and its value."""

    text: str
    idx: tuple[str, ...]
    value: Any


@dataclass
class Generated:
    src: str
    inputs: dict[str, Any]
    sizes: dict[str, int]  # keyword sizes for the call
    expected: np.ndarray


def align(term: Term, target: tuple[str, ...]) -> np.ndarray:
    """Transpose ``term.value`` into the order of ``target``, with size-1 axes where absent."""
    assert set(term.idx) <= set(target), (term.idx, target)
    value = np.asarray(term.value)
    order = [term.idx.index(t) for t in target if t in term.idx]
    value = value.transpose(order)
    shape = [value.shape[order.index(term.idx.index(t))] if t in term.idx else 1 for t in target]
    return value.reshape(shape)


@dataclass
class Builder:
    """State of one random program under construction."""

    draw: Callable[..., Any]
    letters: tuple[str, ...] = ()
    sizes: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    compact: bool = False

    @classmethod
    def start(cls, draw: Callable[..., Any], min_letters: int = 1) -> Builder:
        n = draw(st.integers(min_letters, 4), label="number of indices")
        letters = tuple(draw(st.permutations(LETTERS))[:n])
        sizes = {letter: draw(st.integers(1, 4), label=f"size of {letter}") for letter in letters}
        seed = draw(st.integers(0, 2**32 - 1), label="seed")
        return cls(
            draw=draw,
            letters=letters,
            sizes=sizes,
            rng=np.random.default_rng(seed),
            compact=draw(st.booleans(), label="compact spacing"),
        )

    def join(self, items: list[str] | tuple[str, ...]) -> str:
        return ("," if self.compact else ", ").join(items)

    def subset(self, pool: tuple[str, ...], min_size: int, max_size: int) -> tuple[str, ...]:
        """A random ordered selection of distinct letters from ``pool``."""
        max_size = min(max_size, len(pool))
        k = self.draw(st.integers(min(min_size, max_size), max_size))
        return tuple(self.draw(st.permutations(pool))[:k])

    def new_name(self) -> str:
        tensors = [n for n in self.inputs if len(n) == 1]
        return "ABCDEFGHJKLMNPQR"[len(tensors)]

    def new_input(self, idx: tuple[str, ...], allow_diagonal: bool = False) -> Term:
        """A fresh input tensor indexed by ``idx`` (maybe with one index repeated)."""
        written = list(idx)
        if allow_diagonal and idx and self.draw(st.integers(0, 5)) == 0:
            written.insert(self.draw(st.integers(0, len(written))), self.draw(st.sampled_from(idx)))
        name = self.new_name()
        array = self.rng.standard_normal([self.sizes[t] for t in written])
        self.inputs[name] = array
        text = f"{name}[{self.join(written)}]"
        # The value of the term: the diagonal over repeated letters, axes in first-seen order.
        seen = tuple(dict.fromkeys(written))
        value = np.einsum(f"{''.join(written)}->{''.join(seen)}", array)
        return Term(text, seen, value)

    def scalar_input(self) -> Term:
        name = ("alpha", "beta", "gamma")[sum(n in self.inputs for n in ("alpha", "beta"))]
        value = float(np.round(self.rng.uniform(0.5, 2.0), 3))
        self.inputs[name] = value
        return Term(name, (), np.asarray(value))

    def mapped(self, term: Term, probability: int = 3) -> Term:
        """Maybe wrap ``term`` in a random elementwise map (1 in ``probability``)."""
        if self.draw(st.integers(0, probability - 1)) != 0:
            return term
        template, fn = self.draw(st.sampled_from(MAPS))
        if template == "exp({})" and np.max(np.abs(term.value), initial=0.0) > 5:
            template, fn = "tanh({})", np.tanh  # keep the oracle finite
        return Term(template.format(term.text), term.idx, fn(term.value))

    def combine(self, terms: list[Term], target: tuple[str, ...]) -> Term:
        """A random binary-operator tree over ``terms``; the value is aligned to ``target``."""
        aligned = [Term(t.text, target, align(t, target)) for t in terms]
        while len(aligned) > 1:
            k = self.draw(st.integers(0, len(aligned) - 2))
            left, right = aligned[k], aligned[k + 1]
            if target and self.draw(st.integers(0, 5)) == 0:
                # where on the values of two indices (bare index names)
                a, b = self.draw(st.sampled_from(target)), self.draw(st.sampled_from(target))
                op, cmp = self.draw(
                    st.sampled_from(
                        [
                            ("<", np.less),
                            ("<=", np.less_equal),
                            (">", np.greater),
                            ("!=", np.not_equal),
                        ]
                    )
                )
                ia = align(Term(a, (a,), np.arange(self.sizes[a])), target)
                ib = align(Term(b, (b,), np.arange(self.sizes[b])), target)
                text = f"where({a} {op} {b}, {left.text}, {right.text})"
                value = np.where(cmp(ia, ib), left.value, right.value)
            else:
                template, fn = self.draw(st.sampled_from(BINOPS))
                text = template.format(left.text, right.text)
                value = fn(left.value, right.value)
            aligned[k : k + 2] = [Term(text, target, value)]
        return aligned[0]

    def lhs(self, name: str, idx: tuple[str, ...], ellipsis: bool = False) -> str:
        items = (["..."] if ellipsis else []) + list(idx)
        return f"{name}[{self.join(items)}]" if items else name


def reduce_axes(
    value: np.ndarray,
    idx: tuple[str, ...],
    reduced: tuple[str, ...],
    out: tuple[str, ...],
    red: str,
    offset: int = 0,
) -> np.ndarray:
    """Apply a NumPy reduction over the ``reduced`` letters, then order the rest as ``out``."""
    axes = tuple(offset + idx.index(r) for r in reduced)
    result = REDUCTIONS[red](value, axis=axes)
    remaining = [t for t in idx if t not in reduced]
    perm = list(range(offset)) + [offset + remaining.index(t) for t in out]
    return np.transpose(result, perm)


def check_all_backends(gen: Generated) -> None:
    note(f"program:\n{gen.src}")
    note("inputs: " + ", ".join(f"{n}{np.shape(v)}" for n, v in gen.inputs.items()))
    note(f"sizes: {gen.sizes}")
    expected = np.asarray(gen.expected)
    assert np.all(np.isfinite(expected)), "the generator made a non-finite oracle"
    for backend in BACKENDS:
        compiled = tc.compile(gen.src, backend=backend)
        actual = compiled(**convert_inputs(gen.inputs, backend), **gen.sizes)
        assert_matches(
            actual,
            expected,
            backend=backend,
            rtol=RTOL,
            atol=ATOL,
            context=f"{backend}: {gen.src!r}",
        )


# --------------------------------------------------------------------------------------------
# Strategies


def einstein_statement(
    b: Builder, target: str, extra: list[Term] | None = None
) -> tuple[str, Term]:
    """``T[out] = [scalar *] A[..] * B[..] ...``: summed over the letters not in out."""
    extra = extra or []
    n_ops = b.draw(st.integers(max(1, len(extra)), 4))
    operands = list(extra)
    while len(operands) < n_ops:
        if operands and b.draw(st.integers(0, 5)) == 0:
            operands.append(b.draw(st.sampled_from(operands)))  # the same tensor twice
        else:
            operands.append(b.new_input(b.subset(b.letters, 1, 3), allow_diagonal=True))
    operands = b.draw(st.permutations(operands))
    union = tuple(dict.fromkeys(t for op in operands for t in op.idx))
    out = b.subset(union, 0, len(union))
    spec = ",".join("".join(op.idx) for op in operands) + "->" + "".join(out)
    value = np.einsum(spec, *[op.value for op in operands])
    text = " * ".join(op.text for op in operands)
    scale = b.draw(st.sampled_from(["", "const", "scalar", "divide"]))
    if scale == "const":
        text, value = f"2.5 * {text}", 2.5 * value
    elif scale == "scalar":
        s = b.scalar_input()
        text, value = f"{s.text} * {text}", s.value * value
    elif scale == "divide":
        text, value = f"{text} / 4", value / 4
    return f"{b.lhs(target, out)} = {text}", Term(target, out, value)


@st.composite
def einstein_programs(draw: st.DrawFn) -> Generated:
    b = Builder.start(draw)
    line, term = einstein_statement(b, "O")
    return Generated(line, b.inputs, {}, term.value)


def reduction_statement(
    b: Builder, target: str, extra: list[Term] | None = None
) -> tuple[str, Term]:
    """``T[out] = red[R](inner)`` where inner is a product or an operator tree."""
    extra = extra or []
    n_ops = b.draw(st.integers(max(1, len(extra)), 3))
    operands = list(extra)
    while len(operands) < n_ops:
        operands.append(b.new_input(b.subset(b.letters, 1, 3), allow_diagonal=True))
    operands = [b.mapped(op, probability=4) for op in b.draw(st.permutations(operands))]
    union = tuple(dict.fromkeys(t for op in operands for t in op.idx))
    if b.draw(st.booleans()):  # a product of the terms
        inner_text = " * ".join(op.text for op in operands)
        inner_value = np.ones([1] * len(union))
        for op in operands:
            inner_value = inner_value * align(op, union)
        inner = Term(inner_text, union, inner_value)
    else:
        inner = b.combine(operands, union)
    inner = b.mapped(inner, probability=4)
    reduced = b.subset(union, 1, len(union))
    remaining = tuple(t for t in union if t not in reduced)
    out = b.draw(st.permutations(remaining))
    red = b.draw(st.sampled_from(sorted(REDUCTIONS)))
    value = reduce_axes(np.asarray(inner.value), union, reduced, tuple(out), red)
    result = Term(f"{red}[{b.join(reduced)}]({inner.text})", tuple(out), value)
    if b.draw(st.integers(0, 3)) == 0:  # a bounded map: a product may be large
        template, fn = b.draw(st.sampled_from(BOUNDED_MAPS))
        result = Term(template.format(result.text), result.idx, fn(result.value))
    return f"{b.lhs(target, tuple(out))} = {result.text}", Term(target, tuple(out), result.value)


@st.composite
def reduction_programs(draw: st.DrawFn) -> Generated:
    b = Builder.start(draw)
    line, term = reduction_statement(b, "O")
    return Generated(line, b.inputs, {}, term.value)


def elementwise_statement(
    b: Builder, target: str, extra: list[Term] | None = None
) -> tuple[str, Term]:
    """``T[out] = tree of maps and binary operators``; operands missing letters broadcast."""
    extra = extra or []
    out_pool = tuple(dict.fromkeys([t for e in extra for t in e.idx] + list(b.letters)))
    must = tuple(dict.fromkeys(t for e in extra for t in e.idx))
    out = tuple(
        b.draw(
            st.permutations(
                must + b.subset(tuple(t for t in out_pool if t not in must), 0 if must else 1, 3)
            )
        )
    )
    n_ops = b.draw(st.integers(max(1, len(extra)), 3))
    leaves = list(extra)
    while len(leaves) < n_ops:
        if b.draw(st.integers(0, 6)) == 0:
            leaves.append(b.scalar_input())
        else:
            leaves.append(b.new_input(b.subset(out, 1, len(out))))
    leaves = [b.mapped(leaf) for leaf in b.draw(st.permutations(leaves))]
    # every letter on the left must be read from some tensor, so that its size is known
    missing = tuple(t for t in out if all(t not in leaf.idx for leaf in leaves))
    if missing:
        leaves.append(b.new_input(missing))
    tree = b.mapped(b.combine(leaves, out))
    value = np.broadcast_to(tree.value, [b.sizes[t] for t in out]).copy()
    return f"{b.lhs(target, out)} = {tree.text}", Term(target, out, value)


@st.composite
def elementwise_programs(draw: st.DrawFn) -> Generated:
    b = Builder.start(draw)
    line, term = elementwise_statement(b, "O")
    return Generated(line, b.inputs, {}, term.value)


@st.composite
def normaliser_programs(draw: st.DrawFn) -> Generated:
    """``O[perm] = softmax[k](X)`` or ``cumsum[k](X)``, maybe inside more arithmetic."""
    b = Builder.start(draw)
    idx = b.subset(b.letters, 1, 3)
    operand = b.mapped(b.new_input(idx), probability=4)
    out = tuple(draw(st.permutations(idx)))
    k = draw(st.sampled_from(idx))
    axis = out.index(k)
    x = align(operand, out)
    kind = draw(st.sampled_from(["softmax", "cumsum"]))
    if kind == "softmax":
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        value = e / e.sum(axis=axis, keepdims=True)
    else:
        value = np.cumsum(x, axis=axis)
    text = f"{kind}[{k}]({operand.text})"
    if draw(st.booleans()):
        other = b.new_input(b.subset(out, 1, len(out)))
        text = f"{text} * {other.text}"
        value = value * align(other, out)
    return Generated(f"{b.lhs('O', out)} = {text}", b.inputs, {}, value)


@st.composite
def ellipsis_programs(draw: st.DrawFn) -> Generated:
    """Batch dimensions under ``...`` with NumPy broadcasting (size-1 dimensions)."""
    b = Builder.start(draw)
    batch_rank = draw(st.integers(0, 2))
    batch = [draw(st.integers(1, 3)) for _ in range(batch_rank)]
    n_ops = draw(st.integers(1, 3))
    written: list[str] = []
    spec_terms: list[str] = []
    arrays: list[np.ndarray] = []
    idx_all: list[tuple[str, ...]] = []
    for n in range(n_ops):
        idx = b.subset(b.letters, 0 if n else 1, 3)
        has_batch = n == 0 or not idx or draw(st.integers(0, 3)) != 0
        rank = draw(st.integers(0, batch_rank)) if has_batch else 0
        bshape = [1 if draw(st.booleans()) else size for size in batch[batch_rank - rank :]]
        name = b.new_name()
        array = b.rng.standard_normal(bshape + [b.sizes[t] for t in idx])
        b.inputs[name] = array
        items = (["..."] if has_batch else []) + list(idx)
        written.append(f"{name}[{b.join(items)}]")
        spec_terms.append(("..." if has_batch else "") + "".join(idx))
        arrays.append(array)
        idx_all.append(idx)
    union = tuple(dict.fromkeys(t for idx in idx_all for t in idx))
    if draw(st.booleans()):
        out = b.subset(union, 0, len(union))
        value = np.einsum(",".join(spec_terms) + "->..." + "".join(out), *arrays)
        src = f"{b.lhs('O', out, ellipsis=True)} = {' * '.join(written)}"
    else:
        reduced = b.subset(union, 1, len(union))
        remaining = tuple(t for t in union if t not in reduced)
        out = tuple(draw(st.permutations(remaining)))
        red = draw(st.sampled_from(sorted(REDUCTIONS)))
        inner = np.einsum(",".join(spec_terms) + "->..." + "".join(union), *arrays)
        offset = inner.ndim - len(union)
        value = reduce_axes(inner, union, reduced, out, red, offset=offset)
        src = f"{b.lhs('O', out, ellipsis=True)} = {red}[{b.join(reduced)}]({' * '.join(written)})"
    return Generated(src, b.inputs, {}, value)


def _groups_text(b: Builder, groups: list[tuple[str, ...]]) -> str:
    return b.join([g[0] if len(g) == 1 else "(" + " ".join(g) + ")" for g in groups])


@st.composite
def composed_programs(draw: st.DrawFn) -> Generated:
    """Merge ``Y[(a b), c] = X[a, b, c]`` or split ``X[a, b, c] = Y[(a b), c]`` axes."""
    b = Builder.start(draw, min_letters=2)
    plain = tuple(draw(st.permutations(b.letters)))
    grouped_order = tuple(draw(st.permutations(b.letters)))
    # cut grouped_order into consecutive groups, at least one with two or more letters
    cuts = sorted(
        draw(st.sets(st.integers(1, len(grouped_order) - 1), max_size=len(grouped_order) - 2))
    )
    bounds = [0, *cuts, len(grouped_order)]
    groups = [grouped_order[s:e] for s, e in itertools.pairwise(bounds)]
    grouped_shape = [math.prod(b.sizes[t] for t in g) for g in groups]
    if draw(st.booleans()):  # merge
        x = b.rng.standard_normal([b.sizes[t] for t in plain])
        b.inputs["X"] = x
        value = x.transpose([plain.index(t) for t in grouped_order]).reshape(grouped_shape)
        src = f"Y[{_groups_text(b, groups)}] = X[{b.join(plain)}]"
        return Generated(src, b.inputs, {}, value)
    y = b.rng.standard_normal(grouped_shape)
    b.inputs["Y"] = y
    keyword_sizes = {t: b.sizes[t] for g in groups if len(g) > 1 for t in g[:-1]}
    value = y.reshape([b.sizes[t] for t in grouped_order]).transpose(
        [grouped_order.index(t) for t in plain]
    )
    src = f"X[{b.join(plain)}] = Y[{_groups_text(b, groups)}]"
    return Generated(src, b.inputs, keyword_sizes, value)


def random_grouping(
    b: Builder, letters: tuple[str, ...], min_groups: int = 1
) -> list[tuple[str, ...]]:
    """Cut ``letters`` into consecutive groups (at least ``min_groups`` of them)."""
    if len(letters) <= 1:
        return [letters] if letters else []
    cuts = sorted(
        b.draw(
            st.sets(
                st.integers(1, len(letters) - 1), min_size=min_groups - 1, max_size=len(letters) - 1
            )
        )
    )
    bounds = [0, *cuts, len(letters)]
    return [letters[s:e] for s, e in itertools.pairwise(bounds)]


@st.composite
def composed_contraction_programs(draw: st.DrawFn) -> Generated:
    """Composed axes inside a contraction: ``O[(b h), e] = X[b, (h d)] * W[d, e]``."""
    b = Builder.start(draw, min_letters=2)
    x_letters = b.subset(b.letters, 2, 3)
    x_groups = random_grouping(b, x_letters, min_groups=1)
    if all(len(g) == 1 for g in x_groups):
        x_groups = [x_letters]  # at least one composed axis
    operands: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = []
    x = b.rng.standard_normal([math.prod(b.sizes[t] for t in g) for g in x_groups])
    b.inputs["X"] = x
    operands.append(("X", x_letters, x_groups))
    views = [x.reshape([b.sizes[t] for t in x_letters])]
    if draw(st.booleans()):
        w_letters = b.subset(b.letters, 1, 2)
        b.inputs["W"] = b.rng.standard_normal([b.sizes[t] for t in w_letters])
        operands.append(("W", w_letters, [(t,) for t in w_letters]))
        views.append(b.inputs["W"])
    union = tuple(dict.fromkeys(t for _, letters, _ in operands for t in letters))
    out = b.subset(union, 1, len(union))
    out_groups = random_grouping(b, out)
    spec = ",".join("".join(letters) for _, letters, _ in operands) + "->" + "".join(out)
    value = np.einsum(spec, *views).reshape([math.prod(b.sizes[t] for t in g) for g in out_groups])
    # Sizes that cannot be inferred: letters only ever seen inside composed axes, where the
    # rest of their group is not known either.  Pass all but one of each such group.
    known = {t for _, _, groups in operands for g in groups if len(g) == 1 for t in g}
    changed = True
    while changed:
        changed = False
        for _, _, groups in operands:
            for g in groups:
                unknown = [t for t in g if t not in known]
                if len(unknown) == 1:
                    known.add(unknown[0])
                    changed = True
    keywords: dict[str, int] = {}
    for _, _, groups in operands:
        for g in groups:
            unknown = [t for t in g if t not in known and t not in keywords]
            for t in unknown[:-1]:
                keywords[t] = b.sizes[t]
            known.update(unknown)
    rhs = " * ".join(f"{name}[{_groups_text(b, groups)}]" for name, _, groups in operands)
    src = f"O[{_groups_text(b, out_groups)}] = {rhs}"
    return Generated(src, b.inputs, keywords, value)


@st.composite
def multi_statement_programs(draw: st.DrawFn) -> Generated:
    """A contraction ``T`` followed by a reduction or elementwise statement that uses it."""
    b = Builder.start(draw, min_letters=2)
    first, t = einstein_statement(b, "T")
    t_value = t.value
    t_term = Term(b.lhs("T", t.idx), t.idx, t_value)
    if draw(st.booleans()) and t.idx:
        second, out = reduction_statement(b, "O", extra=[t_term])
    else:
        second, out = elementwise_statement(b, "O", extra=[t_term])
    separator = draw(st.sampled_from(["\n", "; ", "\n# a comment\n"]))
    return Generated(first + separator + second, b.inputs, {}, out.value)


# --------------------------------------------------------------------------------------------
# Tests


@SETTINGS
@given(einstein_programs())
def test_random_einstein_products(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(reduction_programs())
def test_random_explicit_reductions(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(elementwise_programs())
def test_random_elementwise_broadcasting(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(normaliser_programs())
def test_random_normalisers(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(ellipsis_programs())
def test_random_ellipsis_batches(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(composed_programs())
def test_random_composed_axes(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(composed_contraction_programs())
def test_random_composed_axes_in_contractions(gen: Generated) -> None:
    check_all_backends(gen)


@SETTINGS
@given(multi_statement_programs())
def test_random_multi_statement_programs(gen: Generated) -> None:
    check_all_backends(gen)
