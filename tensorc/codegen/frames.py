"""Where a kernel's windows sit, as generated code sees them: each spatial axis's `Frame`,
the zeros to add before and after the input (negative: elements to cut off) so that output `h`
reads window element `k` at `stride*h + dilation*k` of the framed axis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tensorc.codegen.places import Sum
from tensorc.ir.kernels import ConvolutionTranspose, Window, Windowed

if TYPE_CHECKING:
    from tensorc.codegen.dialect import Generator


@dataclass(frozen=True)
class Frame:
    """One spatial axis of a kernel as generated code sees it. The input (for a transposed
    convolution: the output) is framed along it by `before` and `after` zeros (negative: that
    many elements cut off), after which output `h` reads window element `k` at
    `stride*h + dilation*k`, the window reversed where it is `flipped`."""

    window: Window
    size: str  # the size of the index that steps by the stride
    kernel: str  # the size of the window
    span: Sum  # how many elements one row of windows covers: stride*(size-1) + dilation*(kernel-1) + 1
    before: Sum
    after: Sum
    length: Sum  # the length of the axis before it is framed

    def clamped(self) -> tuple[int, int, int, int] | None:
        """With known sizes, the frame as (first, stop, zeros before, zeros after): elements
        first..stop-1 kept, then zeros added. A frame that cuts more than there is (windows
        wholly past the input) keeps nothing and reads zeros only."""
        length, before, after = self.length.number, self.before.number, self.after.number
        if length is None or before is None or after is None:
            return None
        start, total = -before, max(0, length + before + after)
        first = min(max(start, 0), length)
        stop = max(first, min(max(start + total, 0), length))
        low = min(max(-start, 0), total)
        return first, stop, low, total - low - (stop - first)

    @property
    def stride(self) -> int:
        return self.window.stride

    @property
    def dilation(self) -> int:
        return self.window.dilation

    @property
    def padding(self) -> int | None:
        """The zeros on each side, where they are known, equal and not negative."""
        before, after = self.before.number, self.after.number
        return before if before is not None and before == after and before >= 0 else None


def size_sum(gen: Generator, label: str) -> Sum:
    """The size of `label` as a `Sum`, folded to a number where it is known."""
    return Sum().plus(Sum(0, ((1, gen.size(label)),)))


def tidy(total: Sum) -> Sum:
    """`total` with like terms added up: `n_t + n_k - n_k` is `n_t`."""
    coefficients: dict[str, int] = {}
    for c, text in total.terms:
        coefficients[text] = coefficients.get(text, 0) + c
    return Sum(total.constant, tuple((c, t) for t, c in coefficients.items() if c))


def frames(gen: Generator, node: Windowed) -> list[Frame]:
    """Each spatial axis's frame. A convolution or pool reads the window of output h from
    `start + stride*h` on, where start is the offset (less the window's reach, for a flipped
    window); a transposed convolution writes there, so its frame is the other way round."""
    found = []
    for window in node.windows:
        size, kernel = size_sum(gen, window.index), size_sum(gen, window.kernel)
        extent = size_sum(gen, window.extent)
        reach = kernel.plus(-1).times(window.dilation)
        start = Sum(window.place.offset).plus(reach.times(-1) if window.flipped else Sum())
        span = size.plus(-1).times(window.stride).plus(reach).plus(1)
        before, after = start.times(-1), tidy(span.plus(start).plus(extent.times(-1)))
        length = extent
        if isinstance(node, ConvolutionTranspose):  # framing the natural result, `span` long
            before, after, length = before.times(-1), after.times(-1), span
        elif after.number is not None and -window.stride < after.number < 0:
            after = Sum()  # the kernel leaves out the elements no window reaches
        texts = (gen.size(window.index), gen.size(window.kernel))
        found.append(Frame(window, *texts, tidy(span), tidy(before), after, tidy(length)))
    return found


def window_span(gen: Generator, frame: Frame) -> str:
    """How many elements one window covers: dilation * (kernel - 1) + 1."""
    return size_sum(gen, frame.window.kernel).plus(-1).times(frame.dilation).plus(1).text()
