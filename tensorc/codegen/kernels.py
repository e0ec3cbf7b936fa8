"""Code for the kernels that `tensorc.passes.recognise_kernels` finds (`tensorc.ir.kernels`).

Where the windows sit is `tensorc.codegen.frames`. `Kernels` writes the NumPy forms, which
each backend's subclass replaces by its framework's kernels:

- a convolution: a `sliding_window_view` of the framed input, contracted with the weight by
  one `tensordot` (its operands ordered so that the copy into columns reads memory in order),
  one batched `matmul` per group for grouped convolutions, and one product per window offset
  for depthwise ones (`_window_dot`, which copies nothing to make windows);
- pooling: one strided view per window offset, reduced into the result (`_window_reduce`):
  NumPy's reductions over the trailing axes of a window view are some 40 times slower;
- a transposed convolution: one `tensordot` over the input channels, then each window
  offset's products added at their strided places (`_window_add`);
- a pool's derivative: one strided slice per window offset (`_pool_derivative`, each
  backend's own, on `WINDOW_SLICES`): a comparison, a count, a division and a product on
  arrays the size of the pool's result, where the formula broadcasts over window axes two
  long.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

from tensorc.codegen.code import ATOM, PRODUCT, Code, align
from tensorc.codegen.frames import Frame, frames, window_span
from tensorc.ir.kernels import (
    Convolution,
    ConvolutionTranspose,
    Pool,
    PoolDerivative,
    WeightedWindows,
    Windowed,
)
from tensorc.ir.labels import Composed

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator

# Pools over windows of at most this many elements are the amax (amin) of stacked strided
# slices on PyTorch's CPU and on JAX: 5-9x faster than PyTorch's max_pool over (N, C, H, W)
# tensors, and faster than XLA's reduce_window on the CPU, for 2x2 and 3x3 windows (measured).
SLICED = 9

UFUNCS = {"max": "np.maximum", "min": "np.minimum", "sum": "np.add", "mean": "np.add"}


def spatial_axes(labels: tuple[str, ...], node: Windowed) -> list[int]:
    """The axes of an array labelled `labels` that the node's windows move along."""
    return [labels.index(w.extent) for w in node.windows]


def tuple_text(values: list[str] | list[int]) -> str:
    """A tuple's text: `(1, 2)`, `(3,)`."""
    texts = [str(value) for value in values]
    return f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"


def split_channel(labels: tuple[str, ...]) -> tuple[str, ...]:
    """`labels` with each composed axis spelled out as its parts."""
    return tuple(
        p for label in labels for p in (label.parts if isinstance(label, Composed) else (label,))
    )


def einsum_terms(*operands: tuple[str, ...]) -> str:
    """`'nij,j->ni'`: the einsum of operands labelled as given, the last being the result's."""
    letters: dict[str, str] = {}
    terms = ["".join(letters.setdefault(x, chr(97 + len(letters))) for x in o) for o in operands]
    return repr(",".join(terms[:-1]) + "->" + terms[-1])


def flipped(gen: Generator, w: Code, labels: tuple[str, ...], node: Windowed) -> Code:
    """The weight with the windows that run backwards reversed, as a copy (`W[:, ::-1].copy()`:
    small, and read faster than a reversed view)."""
    backwards = {w.kernel for w in node.windows if w.flipped}
    if not backwards:
        return w
    entries = [("::-1" if label in backwards else ":") for label in labels]
    while entries[-1] == ":":
        entries.pop()
    return Code(f"{w.at(ATOM)}[{', '.join(entries)}].copy()")


class Shaping:
    """Generated code for arrays by their labels: reordered, split, merged, framed, named."""

    def __init__(self, gen: Generator):
        self.gen = gen

    def named(self, code: Code, wanted: str) -> Code:
        """A line that computes `code` under a new name (`wanted`, or one like it)."""
        name = self.gen.page.names.claim(wanted)
        self.gen.emitter.lines.append(f"{name} = {code.text}")
        return Code(name)

    def framed(self, x: Code, labels: tuple[str, ...], fs: list[Frame]) -> Code:
        """`x` with each frame's zeros added (`np.pad`) and elements cut off (a slice)."""
        axes = [labels.index(f.window.extent) for f in fs]
        if any(f.clamped() is None for f in fs):
            before = tuple_text([f.before.text() for f in fs])
            after = tuple_text([f.after.text() for f in fs])
            helper = self.gen.use_helper("_framed")
            return Code(f"{helper}({x.text}, {tuple_text(axes)}, {before}, {after})")
        cuts, widths = [":"] * len(labels), [(0, 0)] * len(labels)
        for axis, f in zip(axes, fs, strict=True):
            first, stop, low, high = f.clamped() or (0, 0, 0, 0)
            widths[axis] = (low, high)
            if (first, stop) != (0, f.length.constant):
                cuts[axis] = f"{first or ''}:{stop}"
        if any(cut != ":" for cut in cuts):
            while cuts[-1] == ":":
                cuts.pop()
            x = Code(f"{x.at(ATOM)}[{', '.join(cuts)}]")
        if any(width != (0, 0) for width in widths):
            widths_text = tuple_text([tuple_text(list(w)) for w in widths])
            x = Code(f"{self.gen.module}.pad({x.text}, {widths_text})")
        return x

    def split(self, x: Code, labels: tuple[str, ...]) -> tuple[Code, tuple[str, ...]]:
        """`x` with its composed channel axis split in two (a view)."""
        parts = split_channel(labels)
        if parts == labels:
            return x, labels
        return Code(f"{x.at(ATOM)}.reshape({self.gen.sizes.shape(parts)})"), parts

    def merged(self, x: Code, labels: tuple[str, ...], wanted: tuple[str, ...]) -> Code:
        """`x`, labelled `labels`, in the order of `wanted` with its composed axes merged."""
        parts = split_channel(wanted)
        x = self.reordered(x, labels, parts)
        return (
            x if parts == wanted else Code(f"{x.at(ATOM)}.reshape({self.gen.sizes.shape(wanted)})")
        )

    def reordered(self, x: Code, labels: tuple[str, ...], wanted: tuple[str, ...]) -> Code:
        if tuple(labels) == tuple(wanted):
            return x
        return self.gen.transpose(x, tuple(labels.index(label) for label in wanted))

    def count(self, labels: list[str]) -> str:
        """The number of elements over `labels` (1 for none)."""
        return " * ".join(self.gen.size(label) for label in labels) or "1"


class Kernels(Shaping):
    """The NumPy forms of the kernels (see the module's docstring); a backend's subclass
    writes its framework's kernels instead."""

    one_dtype = False  # whether the framework's kernels refuse operands of two dtypes

    def write(self, node: Windowed, args: list[Code]) -> Code:
        """The code for a kernel node, given its children's: in one dtype where the kernels
        need it and an operand may have drifted from the inputs' (`Dtypes.drifting`), such as
        a derivative's seed, made from the number 1 (integers), beside float inputs."""
        drifting = self.gen.facts.dtypes.drifting
        mixed = isinstance(node, WeightedWindows) and (
            drifting(node.input) or drifting(node.weight)
        )
        if self.one_dtype and mixed:
            args = self.gen.in_one_dtype(args)
        if isinstance(node, Pool):
            return self.pool(node, *args)
        if isinstance(node, PoolDerivative):
            return self.pool_derivative(node, *args)
        if isinstance(node, Convolution):
            return self.convolution(node, *args)
        assert isinstance(node, ConvolutionTranspose)
        return self.convolution_transpose(node, *args)

    def convolution(self, node: Convolution, x: Code, w: Code) -> Code:
        gen, channels = self.gen, node.channels
        labels = node.input.indices
        if channels.groups is not None:  # the groups on an axis of their own
            x, labels = self.split(x, labels)
        x = self.framed(x, labels, frames(gen, node))
        w = flipped(gen, w, node.weight.indices, node)
        if channels.groups is not None and channels.weight[1] is None:
            return self.depthwise(node, x, labels, w)
        windows = self.named(self.windows(x, labels, frames(gen, node)), "windows")
        labels = self.windowed(labels, node)
        if channels.groups is not None:
            return self.grouped(node, windows, labels, w)
        # the columns copied in the input's order of axes: kernels where their axes are
        order = {label: k for k, label in enumerate(node.input.indices)}
        order.update({w.kernel: order[w.extent] for w in node.windows})
        summed = sorted((x for x in labels if x in node.weight.indices), key=order.__getitem__)
        on_windows = [labels.index(label) for label in summed]
        on_weight = [node.weight.indices.index(label) for label in summed]
        free = [label for label in labels if label not in summed]
        free_weight = [label for label in node.weight.indices if label not in summed]
        if not free_weight:  # a product with a vector: einsum reads the windows in place
            return Code(
                f"np.einsum({einsum_terms(labels, node.weight.indices, node.labels)}, {windows.text}, {w.text})"
            )
        if node.input.indices[-1] == channels.input:  # channels last: the columns end with them
            product = f"np.tensordot({windows.text}, {w.text}, axes=({on_windows}, {on_weight}))"
            result = (*free, *free_weight)
        else:
            product = f"np.tensordot({w.text}, {windows.text}, axes=({on_weight}, {on_windows}))"
            result = (*free_weight, *free)
        return self.reordered(Code(product), result, node.labels)

    def grouped(self, node: Convolution, windows: Code, labels: tuple[str, ...], w: Code) -> Code:
        """One matmul per group: the weight's (group, out, summed) by the windows' (group,
        summed, rest), then the group and out axes merged as the output has them."""
        group = str(node.channels.groups)
        w_labels = split_channel(node.weight.indices)
        w = self.split(w, node.weight.indices)[0]
        summed = [label for label in labels if label in w_labels and label != group]
        product, found = self.batched(group, summed, (w, w_labels), (windows, labels))
        return self.merged(product, found, node.labels)

    def batched(
        self, group: str, summed: list[str], *sides: tuple[Code, tuple[str, ...]]
    ) -> tuple[Code, tuple[str, ...]]:
        """The sum over `summed` of the product of two sides, one matmul per value of `group`:
        (group, left rest, summed) @ (group, summed, right rest)."""
        gen = self.gen
        (a, a_labels), (b, b_labels) = sides
        a_rest = [label for label in a_labels if label not in summed and label != group]
        b_rest = [label for label in b_labels if label not in summed and label != group]
        sizes = [gen.size(group), self.count(a_rest), self.count(summed), self.count(b_rest)]
        left = self.reordered(a, a_labels, (group, *a_rest, *summed))
        right = self.reordered(b, b_labels, (group, *summed, *b_rest))
        left = Code(f"{left.at(ATOM)}.reshape({', '.join(sizes[:3])})")
        right = Code(f"{right.at(ATOM)}.reshape({', '.join([sizes[0], *sizes[2:]])})")
        product = Code(f"{left.at(PRODUCT)} @ {right.at(PRODUCT + 1)}", PRODUCT)
        found = (group, *a_rest, *b_rest)
        return Code(f"{product.at(ATOM)}.reshape({gen.sizes.shape(found)})"), found

    def depthwise(self, node: Convolution, x: Code, labels: tuple[str, ...], w: Code) -> Code:
        """One product per window offset, summed (`_window_dot`): no channels are summed."""
        gen = self.gen
        w_labels = split_channel(node.weight.indices)
        w = self.split(w, node.weight.indices)[0]
        kernels = tuple(window.kernel for window in node.windows)
        outs = [label for label in w_labels if label not in kernels and label not in labels]
        spatial = self.windowed(labels, node)[: len(labels)]
        at = spatial.index(str(node.channels.groups)) + 1
        every = (*spatial[:at], *outs, *spatial[at:])  # the result's axes, in this order
        x = align(x, labels, (*labels[:at], *outs, *labels[at:]))
        w_order = tuple(label for label in every if label in w_labels) + kernels
        w = align(self.reordered(w, w_labels, w_order), w_order, (*every, *kernels))
        axes = [every.index(window.index) for window in node.windows]
        helper = gen.use_helper("_window_dot")
        found = Code(f"{helper}({x.text}, {w.text}, {geometry(self.gen, axes, node, False)})")
        return self.merged(found, every, node.labels)

    def pool(self, node: Pool, x: Code) -> Code:
        gen = self.gen
        labels = node.operand.indices
        x = self.framed(x, labels, frames(gen, node))
        ufunc = UFUNCS[node.op]
        axes = spatial_axes(labels, node)
        helper = gen.use_helper("_window_reduce")
        found = Code(f"{helper}({x.text}, {ufunc}, {geometry(self.gen, axes, node, True)})")
        if node.op != "mean":
            return found
        count = " * ".join(gen.size(w.kernel) for w in node.windows)
        return Code(
            f"{found.at(PRODUCT)} / {count if len(node.windows) == 1 else f'({count})'}", PRODUCT
        )

    def pool_derivative(self, node: PoolDerivative, x: Code, extreme: Code, g: Code) -> Code:
        """The backend's `_pool_derivative` helper, on the windows' geometry."""
        helper = self.gen.use_helper("_pool_derivative")
        return Code(f"{helper}({x.text}, {extreme.text}, {g.text}, {sliced(self.gen, node)})")

    def convolution_transpose(self, node: ConvolutionTranspose, x: Code, w: Code) -> Code:
        """Every input element times the weight (one tensordot, or a matmul per group), each
        window offset's products added at their strided places, then framed."""
        gen, group = self.gen, node.channels.groups
        x, x_labels = self.split(x, node.input.indices)
        w, w_labels = self.split(flipped(gen, w, node.weight.indices, node), node.weight.indices)
        summed = [label for label in x_labels if label in w_labels and label != group]
        # the weight first: the products come out with the input's axes last, in its order,
        # which the adds then read in memory order (25-40% faster than the other way)
        if group is None:
            on_x = [x_labels.index(label) for label in summed]
            on_w = [w_labels.index(label) for label in summed]
            values = Code(f"np.tensordot({w.text}, {x.text}, axes=({on_w}, {on_x}))")
            found = tuple(label for label in (*w_labels, *x_labels) if label not in summed)
        else:
            values, found = self.batched(group, summed, (w, w_labels), (x, x_labels))
        by_extent = {window.extent: window.index for window in node.windows}
        out_labels = split_channel(node.labels)
        kernels = tuple(window.kernel for window in node.windows)
        wanted = (*kernels, *(by_extent.get(label, label) for label in out_labels))
        values = self.named(self.reordered(values, found, wanted), "products")
        fs = frames(gen, node)
        spans = {f.window.extent: f.span.text() for f in fs}
        shape = tuple_text([spans.get(label) or gen.size(label) for label in out_labels])
        axes = tuple_text(spatial_axes(out_labels, node))
        strides = tuple_text([window.stride for window in node.windows])
        dilations = tuple_text([window.dilation for window in node.windows])
        helper = gen.use_helper("_window_add")
        zeros = f"np.zeros({shape}, {values.text}.dtype)"
        added = Code(f"{helper}({zeros}, {values.text}, {axes}, {strides}, {dilations})")
        return self.merged(self.framed(added, out_labels, fs), out_labels, node.labels)

    # --- pieces ----------------------------------------------------------------------------

    def windows(self, x: Code, labels: tuple[str, ...], fs: list[Frame]) -> Code:
        """The window view: each spatial axis steps by the stride, with the window axes after
        all others, stepping by the dilation."""
        axes = [labels.index(f.window.extent) for f in fs]
        spans = [window_span(self.gen, f) for f in fs]
        view = f"np.lib.stride_tricks.sliding_window_view({x.text}, {tuple_text(spans)}, axis={tuple_text(axes)})"
        steps = [":"] * (len(labels) + len(fs))
        for k, (axis, f) in enumerate(zip(axes, fs, strict=True)):
            if f.stride > 1:
                steps[axis] = f"::{f.stride}"
            if f.dilation > 1:
                steps[len(labels) + k] = f"::{f.dilation}"
        while steps and steps[-1] == ":":
            steps.pop()
        return Code(f"{view}[{', '.join(steps)}]" if steps else view)

    def windowed(self, labels: tuple[str, ...], node: Windowed) -> tuple[str, ...]:
        """The labels of the window view of an input labelled `labels`."""
        by_extent = {w.extent: w.index for w in node.windows}
        return (
            *(by_extent.get(label, label) for label in labels),
            *(w.kernel for w in node.windows),
        )


def geometry(gen: Generator, axes: list[int], node: Windowed, with_kernel: bool) -> str:
    """The arguments that say where the windows are: axes, sizes, (kernel,) strides, dilations."""
    windows = node.windows
    pieces = [tuple_text(axes), tuple_text([gen.size(w.index) for w in windows])]
    if with_kernel:
        pieces.append(tuple_text([gen.size(w.kernel) for w in windows]))
    pieces.append(tuple_text([w.stride for w in windows]))
    pieces.append(tuple_text([w.dilation for w in windows]))
    return ", ".join(pieces)


def sliced(gen: Generator, node: Pool | PoolDerivative) -> str:
    """The arguments of `_window_slices` after `ndim`: starts, axes, sizes, kernel, strides,
    dilations."""
    axes = spatial_axes(node.operand.indices, node)
    starts = tuple_text([w.place.offset for w in node.windows])
    return f"{starts}, {geometry(gen, axes, node, True)}"


def extreme_of_slices(gen: Generator, node: Pool, x: Code, stack: str, extreme: str) -> Code | None:
    """A max or min pool as `extreme` (the framework's amax or amin) along the `stack` of one
    strided slice per window offset (`_window_extreme`), where its windows stay inside x and
    have at most `SLICED` offsets; else None."""
    sizes = [gen.size(w.kernel) for w in node.windows]
    if not all(size.isdigit() for size in sizes) or node.op not in ("max", "min"):
        return None
    if not all(w.inside for w in node.windows) or prod(map(int, sizes)) > SLICED:
        return None
    helper = gen.use_helper("_window_extreme")
    return Code(f"{helper}({x.text}, {stack}, {extreme}, {sliced(gen, node)})")
