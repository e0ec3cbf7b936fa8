"""Fast code for the common reads and writes at tensor-valued positions, chosen by measurement.

Where one axis is read or written at the positions an integer tensor holds and every other
axis is passed through, the backends have kernels that beat general advanced indexing:

- a *take*, when the lookup shares no index with the other axes (`W[ids[b, t], d]`, an
  embedding): `np.take`, `jnp.take`, `index_select` on PyTorch (on CPU ~4x faster than
  `W[ids]`);
- a *pick*, when it does (`Z[n, y[n]]`, `X[i, idx[i, j]]`): `take_along_axis` (`gather` on PyTorch);
- an *add-at*, a `+=` target of that shape (`S[seg[e], d] += X[e, d]`, a segment sum):
  `np.bincount` per column (several times faster than `np.add.at`), `.at[...].add` on JAX,
  `index_put` with accumulation on PyTorch (faster than `index_add` and `scatter_add`).

Positions are still checked (`Generator.checked_read`/`checked_write`): one pass over the
lookup, never one per element of the result. Anything else is left to the general forms of
`tensorc.codegen.places` (these functions return None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tensorc.codegen.code import ATOM, Code
from tensorc.codegen.places import PlaceForms, reordered, target_name, tensor_name
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS, axis_number

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator


def _one_lookup(places: tuple[ir.Place, ...]) -> tuple[int, ir.Position] | None:
    """The axis and position of the one tensor-valued position among `places`, where the
    others are all distinct labels passed through that the lookup does not use twice."""
    positions = [(k, p) for k, p in enumerate(places) if isinstance(p, ir.Position)]
    plain = [p for p in places if not isinstance(p, ir.Position)]
    if len(positions) != 1 or len(set(plain)) != len(plain):
        return None
    k, place = positions[0]
    if place.lookup is None or place.terms or ELLIPSIS in place.lookup.indices:
        return None
    return k, place


def _plus_offset(code: Code, place: ir.Position) -> Code:
    if not place.offset:
        return code
    sign = "-" if place.offset < 0 else "+"
    return Code(f"{code.at(ATOM)} {sign} {abs(place.offset)}", 8)


# --- reads -----------------------------------------------------------------------------------


def gather(gen: Generator, node: ir.Gather, operand: Code, lookups: list[Code]) -> Code | None:
    """A take or a pick for `node`, or None where neither fits."""
    found = _one_lookup(node.places)
    if found is None:
        return None
    k, place = found
    assert place.lookup is not None
    labels = node.operand.indices
    own = place.lookup.indices
    positions = _plus_offset(lookups[0], place)
    axis = axis_number(labels, k)
    shared = set(own) & set(labels)
    if place.boundary == "pad" and not shared:  # zeros outside: a one-hot product's meaning
        taken = gen.take_or_zero(operand, positions, axis)
        return reordered(gen, taken, (*labels[:k], *own, *labels[k + 1 :]), node.labels)
    if place.boundary != "error":
        return None
    positions = gen.checked_read(positions, gen.size(labels[k]), tensor_name(node.operand))
    if not shared:
        taken = gen.take(operand, positions, axis)
        return reordered(gen, taken, (*labels[:k], *own, *labels[k + 1 :]), node.labels)
    return _pick(gen, node, operand, k, positions)


def _pick(gen: Generator, node: ir.Gather, operand: Code, k: int, positions: Code) -> Code | None:
    """`take_along_axis` along axis `k`, where the lookup has one index of its own or none."""
    place = node.places[k]
    assert isinstance(place, ir.Position) and place.lookup is not None
    found = pick(gen, operand, node.operand.indices, k, place.lookup.indices, positions)
    return None if found is None else reordered(gen, found[0], found[1], node.labels)


def pick(
    gen: Generator,
    operand: Code,
    labels: tuple[str, ...],
    k: int,
    looked_up: tuple[str, ...],
    positions: Code,
) -> tuple[Code, tuple[str, ...]] | None:
    """`operand` (axes `labels`) read along axis `k` at `positions` (axes `looked_up`), and
    the labels of the result: the positions get the operand's rank (length 1 where they do
    not vary), with the lookup's own index at `k`, or none (then the axis goes)."""
    own = [label for label in looked_up if label not in labels]
    if ELLIPSIS in labels or len(own) > 1:
        return None
    axes = [own[0] if m == k and own else label for m, label in enumerate(labels)]
    present = tuple(label for label in axes if label in looked_up)
    index = reordered(gen, positions, looked_up, present)
    entries = [":" if label in looked_up else "None" for label in axes]
    if "None" in entries:
        index = Code(f"{index.at(ATOM)}[{', '.join(entries)}]")
    picked = gen.take_along(operand, index, k)
    if not own:
        picked = Code(f"{picked.at(ATOM)}[{', '.join([':'] * k + ['0'])}]")
        axes.pop(k)
    return picked, tuple(axes)


def cross_entropy(gen: Generator, node: ir.CrossEntropy, logits: Code, target: Code) -> Code:
    """The formula of `node`: logsumexp over the classes minus each row's pick, then the
    mean over the rows if asked; logsumexp subtracts the maximum first, so it is stable."""
    labels = node.logits.indices
    k = labels.index(node.classes)
    rows = tuple(label for label in labels if label != node.classes)
    positions = class_positions(gen, node, target)
    found = pick(gen, logits, labels, k, rows, positions)
    assert found is not None and found[1] == rows
    total = gen.reduce("logsumexp", logits, (k,))
    loss = gen.map("sub", [total, found[0]], [False, False])
    if node.mean:
        return gen.reduce("mean", loss, tuple(range(len(rows))))
    return reordered(gen, loss, rows, node.labels)


def class_positions(gen: Generator, node: ir.CrossEntropy, target: Code) -> Code:
    """The target's class positions, checked, with their axes in the logits' order."""
    labels = node.logits.indices
    rows = tuple(label for label in labels if label != node.classes)
    name = tensor_name(node.logits)
    checked = gen.checked_read(target, gen.size(node.classes), name)
    return reordered(gen, checked, node.target.indices, rows)


# --- writes ----------------------------------------------------------------------------------


def scatter(gen: Generator, node: ir.Scatter, operand: Code, rest: list[Code]) -> Code | None:
    """An add-at for `node`, or None where it does not fit: values added along one axis at
    looked-up positions, the other axes passed through (none of them the lookup's)."""
    found = _one_lookup(node.places) if node.accumulate else None
    if found is None:
        return None
    k, place = found
    assert place.lookup is not None
    looked_up = place.lookup.indices
    plain = tuple(p for p in node.places if not isinstance(p, ir.Position))
    if place.boundary != "error" or ELLIPSIS in plain or set(plain) & set(looked_up):
        return None
    if set(node.operand.indices) != {*looked_up, *plain}:
        return None
    into = rest[0] if node.into is not None else None
    positions = _plus_offset(rest[-1], place)
    positions = gen.checked_write(positions, gen.size(node.labels[k]), target_name(node))
    values = reordered(gen, operand, node.operand.indices, (*looked_up, *plain))
    rows_first = (node.labels[k], *plain)  # the target with the written axis first
    if into is not None and k:
        into = gen.moveaxis(into, [k], [0])
    added = gen.add_at(into, gen.sizes.shape(rows_first), positions, values)
    return gen.moveaxis(added, [0], [k]) if k else added


# --- the dialect's hooks -----------------------------------------------------------------------


class LookupForms(PlaceForms):
    """The generator's hooks for the fast forms, as NumPy writes them (a base of `Generator`;
    each backend overrides what its library writes otherwise)."""

    module: str  # as in `Generator`

    def use_helper(self, name: str) -> str:
        raise NotImplementedError  # `Generator.use_helper`

    def take(self, operand: Code, positions: Code, axis: int) -> Code:
        """`operand` read at `positions` along `axis`, which becomes the positions' axes."""
        return Code(f"{self.module}.take({operand.text}, {positions.text}, axis={axis})")

    def take_or_zero(self, operand: Code, positions: Code, axis: int) -> Code:
        """As `take`, with zeros where a position is not one of the axis's (a one-hot
        product's meaning: positions that are not whole numbers match no row either)."""
        helper = self.use_helper("_take_or_zero")
        return Code(f"{helper}({operand.text}, {positions.text}, {axis})")

    def take_along(self, operand: Code, positions: Code, axis: int) -> Code:
        """`operand` read at `positions` along `axis`, the positions having the operand's rank
        (length 1 along the other axes where they do not vary)."""
        call = f"{self.module}.take_along_axis({operand.text}, {positions.text}, axis={axis})"
        return Code(call)

    def add_at(self, into: Code | None, shape: str, positions: Code, values: Code) -> Code:
        """`into` (or zeros of `shape`) with `values[p]` added to row `positions[p]` of its
        first axis for every p, out of place; rows written more than once add up."""
        start = into.text if into is not None else "None"
        helper = self.use_helper("_add_at")
        return Code(f"{helper}({start}, {shape}, {positions.text}, {values.text})")

    def cross_entropy(self, node: ir.CrossEntropy, logits: Code, target: Code) -> Code:
        """Cross-entropy per row (or its mean): the formula, for backends without a kernel."""
        return cross_entropy(cast("Generator", self), node, logits, target)
