"""Recognises, from the index expressions alone, the kernels that frameworks have.

- A sum of products of a read at positions `stride*h + dilation*k + offset` (one per spatial
  axis, under `pad(...)` or not) and a weight that carries every `k` is a **convolution**
  (`ir.kernels.Convolution`): in 1, 2 or 3 spatial dimensions, with a batch axis or none,
  channels first or last, groups where an index `g` is shared by input, weight and output
  (composed axes `(g c)` and `(g o)`, or a depthwise channel). `-k` runs the window
  backwards: a convolution with the kernel flipped (`pad(t - k)`, a causal convolution).
- `max`, `min`, `mean` or `sum` over such a read alone is **pooling** (`ir.kernels.Pool`),
  and the derivative programs' `+=` of its derivative at the windows (tied extremes sharing
  it) is `ir.kernels.PoolDerivative`.
- `+=` of a product at positions `stride*h + dilation*k + offset` on the left is a
  **transposed convolution** (`ir.kernels.ConvolutionTranspose`); so is `=` into a new
  target, which writes each place once (the plan checks it) and so adds the same.

Each role (batch, group, input channel, output channel) is at most one index, and every index
of the operands must have one. Anything else is left as it is: the general gathers and
scatters compute it. The pass runs before the contraction passes, so it sees the products
whole."""

from __future__ import annotations

from tensorc.ir import nodes as ir
from tensorc.ir.kernels import (
    Channels,
    Convolution,
    ConvolutionTranspose,
    Pool,
    Window,
    Windowed,
)
from tensorc.ir.labels import ELLIPSIS, Composed, composed, parts
from tensorc.ir.shapes import Sizes
from tensorc.ir.windows import plain_axes, stored, window_places
from tensorc.passes.pool_derivatives import pool_derivative, zeros_of

POOLS = ("max", "min", "mean", "sum")


def recognise_kernels(program: ir.Program, sizes: Sizes) -> ir.Program:
    """Replaces every convolution, pooling and transposed convolution by its kernel node;
    one with an empty axis (known when a plan is made) stays general, as kernels refuse
    windows larger than their input."""

    zeros = zeros_of(program)

    def change(node: ir.Node) -> ir.Node | None:
        found = _recognise(node, zeros, sizes)
        return None if found is not None and _empty(found, sizes) else found

    return ir.rewrite_program(program, change)


def _empty(node: ir.Node, sizes: Sizes) -> bool:
    """Whether a kernel (under `node`) has an axis or a window of known size 0."""
    for kernel in ir.walk(node):
        if isinstance(kernel, Windowed):
            labels = [*kernel.indices, *(x for c in kernel.children for x in c.indices)]
            labels += [w.kernel for w in kernel.windows]
            if any(sizes.of.get(part) == 0 for label in labels for part in parts(label)):
                return True
    return False


def _recognise(node: ir.Node, zeros: dict[str, str], sizes: Sizes) -> ir.Node | None:
    if isinstance(node, ir.Contract):
        return _convolution(node) or _sum_pool(node)
    if isinstance(node, ir.Reduce) and node.op in POOLS:
        read = stored(node.operand)  # a read shared with another statement is permuted
        return _pool(node.op, read, node.labels) if isinstance(read, ir.Gather) else None
    if isinstance(node, ir.Scatter) and (node.accumulate or node.into is None):
        # `=` writes each place once: the same sums
        return _convolution_transpose(node) or pool_derivative(node, zeros, sizes)
    if isinstance(node, ir.Reshape) and isinstance(node.operand, ir.Reshape):
        inner = node.operand.operand  # a split of a kernel's channels, merged back
        return inner if inner.indices == node.labels else None
    return None


# --- windows ---------------------------------------------------------------------------------


# --- pooling ---------------------------------------------------------------------------------


def _pool(op: str, read: ir.Gather, labels: tuple[str, ...]) -> ir.Node | None:
    """`op` over windows of `read`, with result axes `labels`, or None."""
    if read.lookups or ELLIPSIS in read.operand.indices:
        return None
    reduced = set(read.labels) - set(labels)
    windows = window_places(read.places, read.operand.indices, set(labels), reduced)
    plain = plain_axes(read.places)
    if windows is None or {w.kernel for w in windows} != reduced or not set(plain) <= set(labels):
        return None
    by_extent = {w.extent: w.index for w in windows}
    order = tuple(by_extent.get(label, label) for label in read.operand.indices)
    return ir.permuted(Pool(op, read.operand, windows, order), labels)


def _sum_pool(node: ir.Contract) -> ir.Node | None:
    """A sum over windows written as an implicit sum (`S[h] = X[2*h + k]`)."""
    tensors = [stored(f) for f in node.factors if f.indices]
    if len(tensors) != 1 or not isinstance(tensors[0], ir.Gather):
        return None
    pooled = _pool("sum", tensors[0], node.labels)
    return _scaled(pooled, node) if pooled is not None else None


def _scaled(value: ir.Node, node: ir.Contract) -> ir.Node:
    """`value` times the scalar factors of the product it replaces."""
    for factor in node.factors:
        if not factor.indices:
            value = ir.Map("mul", (value, factor), value.indices)
    return value


# --- convolutions ----------------------------------------------------------------------------


def _convolution(node: ir.Contract) -> ir.Node | None:
    tensors = [stored(f) for f in node.factors if f.indices]  # shared reads are permuted
    reads = [f for f in tensors if isinstance(f, ir.Gather)]
    if len(tensors) != 2 or len(reads) != 1 or reads[0].lookups:
        return None
    read = reads[0]
    weight = stored(tensors[1] if tensors[0] is read else tensors[0])
    output, held = set(node.labels), set(weight.indices)
    windows = window_places(read.places, read.operand.indices, output - held, held - output)
    if windows is None:
        return None
    roles = _roles(plain_axes(read.places), weight.indices, node.labels, windows)
    if roles is None:
        return None
    batch, group, summed, out = roles
    x = _merged(stored(read.operand), (group, summed))
    w = _merged(weight, (group, out))
    if x is None or w is None:
        return None
    x_channel, out_channel = _channel(group, summed), _channel(group, out)
    channels = Channels(batch, group, x_channel, out_channel, (out_channel, summed))
    labels = _with_channel(node.labels, (group, out))
    return _scaled(_unmerged(Convolution(x, w, windows, channels, labels), node.labels), node)


Roles = tuple[str | None, str | None, str | None, str | None]  # batch, group, summed, other


def _roles(
    plain: list[str], weight: tuple[str, ...], output: tuple[str, ...], windows: tuple[Window, ...]
) -> Roles | None:
    """The batch, group, summed-channel and weight-only labels of a product of a read (its
    plain labels) and a weight, or None where an index has no role or a role two indices."""
    kernels = {w.kernel for w in windows}
    spatial = {w.index for w in windows}
    found: dict[str, list[str]] = {"batch": [], "group": [], "summed": [], "other": []}
    for label in dict.fromkeys((*plain, *weight, *output)):
        if isinstance(label, Composed) or label == ELLIPSIS:
            return None
        if label in kernels or label in spatial:
            continue
        in_read, in_weight, kept = label in plain, label in weight, label in output
        if in_read and in_weight:
            role = "group" if kept else "summed"
        elif kept:
            role = "batch" if in_read else "other"
        else:
            return None  # summed in one operand only
        found[role].append(label)
    if any(len(labels) > 1 for labels in found.values()) or not kernels <= set(weight):
        return None
    if set(output) - spatial - {label for labels in found.values() for label in labels}:
        return None
    first = {role: labels[0] if labels else None for role, labels in found.items()}
    return first["batch"], first["group"], first["summed"], first["other"]


def _channel(group: str | None, inner: str | None) -> str | None:
    """The label of a channel axis that holds `group` (outer) and `inner` channels."""
    if group is not None and inner is not None:
        return composed((group, inner))
    return group if group is not None else inner


def _merged(node: ir.Node, pair: tuple[str | None, str | None]) -> ir.Node | None:
    """`node` with the two labels of `pair` (group first) as one composed axis, where both
    are there: read from before a split where there was one, else merged (permuted first
    where they are apart). None where it has a composed axis of anything else."""
    group, inner = pair
    if group is None or inner is None:
        return None if any(isinstance(label, Composed) for label in node.indices) else node
    label = composed((group, inner))
    if isinstance(node, ir.Reshape) and label in node.operand.indices:
        source = node.operand  # the stored tensor, before the lowering split its axes
        if all(not isinstance(x, Composed) or x == label for x in source.indices):
            return source
    labels = list(node.indices)
    if any(isinstance(x, Composed) for x in labels):
        return None
    labels.remove(inner)
    labels.insert(labels.index(group) + 1, inner)
    node = ir.permuted(node, tuple(labels))
    return ir.Reshape(node, _with_channel(tuple(labels), pair))


def _with_channel(labels: tuple[str, ...], pair: tuple[str | None, str | None]) -> tuple[str, ...]:
    """`labels` with both of `pair` (where both are there) as one composed axis, where the
    first of them stood."""
    group, inner = pair
    if group is None or inner is None:
        return labels
    merged = composed((group, inner))
    first = min(labels.index(group), labels.index(inner))
    rest = [label for label in labels if label not in (group, inner)]
    return (*rest[:first], merged, *rest[first:])


def _unmerged(value: ir.Node, labels: tuple[str, ...]) -> ir.Node:
    """A kernel's result with its composed channel axis split back, in `labels`' order."""
    split = tuple(part for label in value.indices for part in _parts(label))
    if split != value.indices:
        value = ir.Reshape(value, split)
    return ir.permuted(value, labels)


def _parts(label: str) -> tuple[str, ...]:
    return label.parts if isinstance(label, Composed) else (label,)


# --- transposed convolutions -----------------------------------------------------------------


def _convolution_transpose(node: ir.Scatter) -> ir.Node | None:
    value = node.operand
    if node.lookups or not isinstance(value, ir.Contract):
        return None
    tensors = [stored(f) for f in value.factors if f.indices]
    if len(tensors) != 2 or any(isinstance(t, ir.Gather) for t in tensors):
        return None
    x, weight = tensors
    kernels = set(weight.indices) - set(x.indices)
    if not kernels & {i for p in node.places if isinstance(p, ir.Position) for _, i in p.terms}:
        x, weight = weight, x
    outer, inner = set(x.indices) - set(weight.indices), set(weight.indices) - set(x.indices)
    windows = window_places(node.places, node.labels, outer, inner)
    if windows is None:
        return None
    plain = plain_axes(node.places)
    written = tuple(w.index for w in windows) + tuple(w.kernel for w in windows)
    if set(value.labels) != set(plain) | set(written):
        return None
    roles = _roles(list(x.indices), weight.indices, tuple(plain), windows)
    if roles is None:
        return None
    batch, group, summed, out = roles
    x_merged, w_merged = _merged(x, (group, summed)), _merged(weight, (group, summed))
    if x_merged is None or w_merged is None:
        return None
    x_channel = _channel(group, summed)
    channels = Channels(batch, group, x_channel, _channel(group, out), (x_channel, out))
    labels = _with_channel(node.labels, (group, out))
    result = _unmerged(
        ConvolutionTranspose(x_merged, w_merged, windows, channels, labels), node.labels
    )
    result = _scaled(result, value)
    if node.into is not None:
        result = ir.Map("add", (node.into, result), node.labels)
    return result
