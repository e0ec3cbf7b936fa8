"""IR nodes for the kernels that frameworks have: convolutions, pooling and transposed
convolutions, as `tensorc.passes.recognise_kernels` finds them in gathers and scatters.

Each node keeps, per spatial axis, the `Window` it was recognised from: the position
`stride*h + dilation*k + offset` along one stored axis, with its boundary rule. Sizes follow
from those positions by the same rules as for the gather or scatter they replace
(`tensorc.ir.ranges`), and code generation turns them into the kernels' arguments (stride,
dilation, padding), so nothing here depends on the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorc.ir.nodes import Labelled, Node, OneOperand, _remember_hash
from tensorc.ir.positioned import Position


@dataclass(frozen=True)
class Window:
    """One spatial axis of a kernel: along the stored axis `extent` of the input (of the
    output, for a transposed convolution), output index `index` and window index `kernel`
    meet at `place`, `stride*index + dilation*kernel + offset`. A negative coefficient on
    `kernel` runs the window backwards: a convolution with the kernel flipped."""

    place: Position
    extent: str
    index: str
    kernel: str

    @property
    def stride(self) -> int:
        return self.place.coefficient(self.index)

    @property
    def dilation(self) -> int:
        return abs(self.place.coefficient(self.kernel))

    @property
    def flipped(self) -> bool:
        return self.place.coefficient(self.kernel) < 0

    @property
    def inside(self) -> bool:
        """Whether its reads stay inside the axis without a boundary rule, running forwards
        from an offset that is not negative: strided slices of the axis read them all."""
        return self.place.boundary == "error" and not self.flipped and self.place.offset >= 0


@dataclass(frozen=True)
class Channels:
    """Which axis of a convolution's operands holds what (None: there is no such axis).

    `batch` labels an axis of the input and the output only; `groups` is the index that
    picks a group (in input, weight and output, never summed; a depthwise convolution's
    channel); `input` and `output` label the channel axes of the input and the output
    (`c`, `(g c)` or the group index alone); `weight` labels the weight's two channel axes
    in the order PyTorch's weights have them: (output, input) for a convolution,
    (input, output) for a transposed one."""

    batch: str | None
    groups: str | None
    input: str | None
    output: str | None
    weight: tuple[str | None, str | None]


class Windowed(Labelled):
    """A kernel recognised from positions: `windows` says how each spatial axis moves."""

    windows: tuple[Window, ...]


@dataclass(frozen=True)
class WeightedWindows(Windowed):
    """A kernel of an input and a weight, over windows: fields and children shared by the
    convolution and its transpose."""

    input: Node
    weight: Node
    windows: tuple[Window, ...]
    channels: Channels
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.input, self.weight)


@dataclass(frozen=True)
class Convolution(WeightedWindows):
    """sum over channels and windows of input * weight: the output at (n, o, h) is the sum over
    c and k of input[n, c, position(h, k)] * weight[o, c, k] (one window per spatial axis,
    in the input's order), with zeros read outside the input where the position pads."""


@dataclass(frozen=True)
class Pool(Windowed, OneOperand):
    """A reduction (`max`, `min`, `mean`, `sum`) over windows of the operand: the output at h
    reduces operand[position(h, k)] over k, zeros read outside where the position pads. The
    operand's other axes pass through."""

    op: str
    operand: Node
    windows: tuple[Window, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ConvolutionTranspose(WeightedWindows):
    """The adjoint of a convolution: every input[n, c, h] * weight[c, o, k] is added into the
    output at (n, o, position(h, k)); the windows' extents are the output's spatial axes, and
    the output is the smallest that holds every write."""


@dataclass(frozen=True)
class PoolDerivative(Windowed):
    """The derivative of a `max` or `min` pool with respect to its operand, as derivative
    programs write it: at each window's elements equal to `extreme` (the pool's result), the
    `cotangent` divided by how many there are (tied extremes share it), zeros elsewhere, added
    up where windows overlap. `extreme` and `cotangent` have the operand's labels with each
    spatial axis's extent replaced by its window's index; the result has the operand's
    shape, with `labels` (the operand's own, or the written target's)."""

    operand: Node
    extreme: Node
    cotangent: Node
    windows: tuple[Window, ...]
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.operand, self.extreme, self.cotangent)


KERNELS = (Convolution, Pool, ConvolutionTranspose, PoolDerivative)

for _kernel in KERNELS:  # structural hashes cached, as for the other node classes
    _remember_hash(_kernel)


@dataclass(frozen=True)
class CrossEntropy(Labelled):
    """`logsumexp[classes](logits) - logits` at the class that `target` holds, per row (the
    negative log-likelihood of each row's class), or with `mean` its mean over every row:
    cross-entropy, which a backend may run as one kernel. `target` has the rows' labels."""

    logits: Node
    target: Node
    classes: str
    mean: bool
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.logits, self.target)


_remember_hash(CrossEntropy)


# --- norms (issue 11): tensorc/passes/fuse_normalisations.py makes these -----------------


@dataclass(frozen=True)
class Normalise(Labelled):
    """A layer norm (`kind` "layer": (x - mean) / sqrt(var + eps)) or an RMS norm ("rms":
    x / sqrt(mean(x ** 2) + eps)) of `operand` over its last `over` axes, times `gain` and
    plus `bias` (the constants 1 and 0 where a program has none), with the operand's labels:
    what libraries have one kernel for (`fuse_normalisations.formula` writes it out)."""

    kind: str
    operand: Node
    gain: Node
    bias: Node
    eps: float
    over: int
    labels: tuple[str, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.operand, self.gain, self.bias)

    @property
    def normalised(self) -> tuple[str, ...]:
        """The labels of the axes normalised over: the operand's last `over`."""
        return self.labels[len(self.labels) - self.over :]


_remember_hash(Normalise)
