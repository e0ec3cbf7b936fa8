"""PyTorch's kernels for what `recognise_kernels` finds: `torch.nn.functional.conv1d/2d/3d`,
`conv_transpose1d/2d/3d`, `max_pool1d/2d/3d` and `avg_pool1d/2d/3d`.

They take (batch, channels, *spatial). A channels-last program (`I[n, h, w, c]`) is passed as
a permuted view, which for 4-D and 5-D tensors is PyTorch's `channels_last` memory format:
its kernels run on it as it is, and the result comes back channels last, so permuting it back
copies nothing either (see docs/indexing.md). A missing batch or channel axis is a length-1
axis added and dropped again; zeros are passed as `padding=` where they are the same on both
sides, and otherwise added by `F.pad` (which cuts elements off for negative amounts).
"""

from __future__ import annotations

from tensorc.codegen import ATOM, UNARY, Code
from tensorc.codegen.frames import Frame, frames, window_span
from tensorc.codegen.kernels import Kernels, extreme_of_slices, tuple_text
from tensorc.ir.kernels import Convolution, ConvolutionTranspose, Pool

F = "torch.nn.functional"

HELPERS = {
    # The idioms' helpers: the formula itself for bool and integer x, or where x needs a
    # gradient (a tensor made by zeros_like is outside autograd's graph).
    "_zeros_like": '''
def _zeros_like(x):
    """0 * x ** 0: zeros in x's shape and dtype, written at once where x is floating."""
    if (x.is_floating_point() or x.is_complex()) and not x.requires_grad:
        return torch.zeros_like(x)
    return 0 * x ** 0
''',
    "_ones_like": '''
def _ones_like(x):
    """x ** 0: ones in x's shape and dtype, written at once where x is floating."""
    if (x.is_floating_point() or x.is_complex()) and not x.requires_grad:
        return torch.ones_like(x)
    return x ** 0
''',
    "_count": '''
def _count(c, x, axes):
    """sum(where(c, x ** 0, 0)) over axes: counted in integers where x is floating."""
    if (x.is_floating_point() or x.is_complex()) and not x.requires_grad:
        return c.sum(axes).to(x.dtype)
    return torch.where(c, x ** 0, 0).sum(axes)
''',
    "_pool_derivative": '''
def _pool_derivative(x, m, g, starts, axes, sizes, kernel, strides, dilations):
    """The derivative of a max or min m over windows of x, with cotangent g: g / the number of
    elements equal to m in the window, times 1 at those and 0 elsewhere, added up where
    windows overlap, as the derivative program writes it, computed one window offset at a
    time (4-6x faster than broadcasting over window axes two long). Ties are counted in
    integers unless x is floating (a sum widens small integers; bools would saturate)."""
    pieces = [index for _, index in _window_slices(x.ndim, starts, axes, sizes, kernel, strides, dilations)]
    counted = x.dtype if x.is_floating_point() or x.is_complex() else torch.int64
    hits = [(x[index] == m).to(counted) for index in pieces]
    count = hits[0]
    for hit in hits[1:]:
        count = count + hit
    share = g / count
    tiled = all(d == 1 and s == k for k, s, d in zip(kernel, strides, dilations))
    out = share.new_zeros(x.shape)  # batched too under torch.func.vmap
    for index, hit in zip(pieces, hits):
        if not tiled:  # windows overlap: their shares add up
            out[index] += share * hit
        elif share.requires_grad:  # autograd records no out= product
            out[index] = share * hit
        else:
            try:  # the product written straight into its strided slice: no temporary
                torch.mul(share, hit, out=out[index])
            except RuntimeError:  # torch.func.vmap has no batching rule for out= products
                out[index] = share * hit
    return out
''',
    "_floating": '''
def _floating(x):
    """x, in the default float dtype where it holds integers (which avg_pool would divide
    with truncation); floating tensors as they are."""
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())
''',
}
# The kernels of torch's autograd for relu's mask and softmax's vjp, ~10x the formula's speed,
# and the zeros a derivative starts from (`tensorc.codegen.idioms`).
IDIOMS = {
    "threshold_backward": "torch.ops.aten.threshold_backward({g}, {x}, {c})",
    "softmax_backward": "torch._softmax_backward_data({g}, {p}, {dim}, {p}.dtype)",
    "zeros_like": "_zeros_like({x})",
    "ones_like": "_ones_like({x})",
    "count": "_count({c}, {x}, {axes})",
}
Slot = str | None  # an axis label, or None for a length-1 axis the kernel needs


class TorchKernels(Kernels):
    """Writes PyTorch's kernel calls."""

    one_dtype = True

    def convolution(self, node: Convolution, x: Code, w: Code) -> Code:
        channels, fs = node.channels, frames(self.gen, node)
        if shaped_as_weight_gradient(node, fs):
            return self.weight_gradient(node, fs, x, w)
        extents, indices = [v.extent for v in node.windows], [v.index for v in node.windows]
        x = self.arranged(x, node.input.indices, [channels.batch, channels.input, *extents])
        x, padding = self.padded(x, fs)
        w = self.weight(node, w)
        options = self.options(fs) + self.keyword("padding", padding, 0) + self.groups(node)
        found = Code(f"{F}.conv{len(fs)}d({x.text}, {w.text}{options})")
        return self.unarranged(found, [channels.batch, channels.output, *indices], node.labels)

    def convolution_transpose(self, node: ConvolutionTranspose, x: Code, w: Code) -> Code:
        """The kernel crops by `padding=` and grows by `output_padding=` where the frames
        allow it (known sizes, no more zeros before than after, fewer extra zeros than the
        stride or dilation); else `F.pad` frames its result."""
        channels, fs = node.channels, frames(self.gen, node)
        extents, indices = [v.extent for v in node.windows], [v.index for v in node.windows]
        x = self.arranged(x, node.input.indices, [channels.batch, channels.input, *indices])
        w = self.weight(node, w)
        options = self.options(fs)
        before = [f.before.number for f in fs]
        after = [f.after.number for f in fs]
        extra = [(a or 0) - (b or 0) for b, a in zip(before, after, strict=True)]
        inside = all(
            b is not None and a is not None and b <= 0 and 0 <= e < max(f.stride, f.dilation)
            for b, a, e, f in zip(before, after, extra, fs, strict=True)
        )
        if inside:
            options += self.keyword("padding", [-(b or 0) for b in before], 0)
            options += self.keyword("output_padding", extra, 0)
        call = f"{F}.conv_transpose{len(fs)}d({x.text}, {w.text}{options}{self.groups(node)})"
        found = Code(call) if inside else self.pad(Code(call), fs)
        return self.unarranged(found, [channels.batch, channels.output, *extents], node.labels)

    def pool(self, node: Pool, x: Code) -> Code:
        """max_pool (min: of -x) and avg_pool take 1 or 2 leading axes: more are flattened
        into one, and none gets a length-1 one. avg_pool has no dilation: a dilated mean or
        sum is taken over `Tensor.unfold`'s windows (views) instead. On the CPU, a max or min
        over small windows along the last axes is one of strided slices (`extreme_of_slices`)."""
        fs, gen = frames(self.gen, node), self.gen
        extents = [v.extent for v in node.windows]
        # the kernel on channels-last data is vectorised over channels: slices only where the
        # window's axes are the last (3x3 windows over (N, H, W, C): 1.4x max_pool2d's time)
        innermost = set(node.operand.indices[-len(extents) :]) == set(extents)
        sliced, named = None, x
        if node.op in ("max", "min") and innermost:
            x = named = Code(gen.name_of(x))
            sliced = extreme_of_slices(self.gen, node, x, "torch.stack", f"torch.a{node.op}")
        rest = [label for label in node.operand.indices if label not in extents]
        lead: list[Slot] = list(rest) if rest else [None]
        x = self.arranged(x, node.operand.indices, [*lead, *extents])
        if len(lead) > 2:
            x = Code(f"{x.at(ATOM)}.flatten(0, {len(lead) - 2})")
        x, _ = self.padded(x, fs, keep=False)
        kernel = [f.kernel for f in fs]
        options = (
            ""
            if [str(f.stride) for f in fs] == kernel
            else self.keyword("stride", [f.stride for f in fs], None)
        )
        dilations = [f.dilation for f in fs]
        if node.op in ("max", "min"):
            options += self.keyword("dilation", dilations, 1)
            operand = Code(f"-{x.at(ATOM)}", UNARY) if node.op == "min" else x
            found = Code(f"{F}.max_pool{len(fs)}d({operand.text}, {self.value(kernel)}{options})")
            found = Code(f"-{found.text}", UNARY) if node.op == "min" else found
        elif any(d > 1 for d in dilations) or (node.op == "sum" and len(fs) == 1):
            found = self.unfolded(node, x, fs, min(len(lead), 2))
        elif node.op == "sum":  # exact for integers too
            call = f"{x.text}, {self.value(kernel)}{options}, divisor_override=1"
            found = Code(f"{F}.avg_pool{len(fs)}d({call})")
        else:  # avg_pool would divide integers with truncation
            floating = f"{self.gen.use_helper('_floating')}({x.text})"
            found = Code(f"{F}.avg_pool{len(fs)}d({floating}, {self.value(kernel)}{options})")
        if len(lead) > 2:
            sizes = tuple_text([gen.size(str(label)) for label in lead[:-1]])
            found = Code(f"{found.at(ATOM)}.unflatten(0, {sizes})")
        found = self.unarranged(found, [*lead, *(v.index for v in node.windows)], node.labels)
        if sliced is not None:  # max_pool on other devices
            return Code(f"({sliced.text} if {named.text}.is_cpu else {found.text})")
        return found

    def weight_gradient(self, node: Convolution, fs: list[Frame], x: Code, w: Code) -> Code:
        """A convolution shaped as another's weight gradient (`shaped_as_weight_gradient`):
        `torch.nn.grad.conv*d_weight`, whose kernel is 1.7x faster here than `conv*d` with the
        batch and channel axes swapped (for 3x3 kernels over 32x32 images)."""
        channels, gen = node.channels, self.gen
        extents, indices = [v.extent for v in node.windows], [v.index for v in node.windows]
        summed, out = channels.input, channels.output
        x = self.arranged(x, node.input.indices, [summed, channels.batch, *extents])
        g = self.arranged(w, node.weight.indices, [summed, out, *(v.kernel for v in node.windows)])
        shape = tuple_text([gen.size(str(label)) for label in (out, channels.batch, *indices)])
        options = self.keyword("stride", [f.dilation for f in fs], 1)
        options += self.keyword("padding", [int(f.padding or 0) for f in fs], 0)
        options += self.keyword("dilation", [f.stride for f in fs], 1)
        call = f"torch.nn.grad.conv{len(fs)}d_weight({x.text}, {shape}, {g.text}{options})"
        return self.unarranged(Code(call), [out, channels.batch, *indices], node.labels)

    # --- pieces ----------------------------------------------------------------------------

    def weight(self, node: Convolution | ConvolutionTranspose, w: Code) -> Code:
        """The weight as (first channel, second channel, *kernel), flipped where the window
        runs backwards."""
        first, second = node.channels.weight
        w = self.arranged(
            w, node.weight.indices, [first, second, *(x.kernel for x in node.windows)]
        )
        backwards = [2 + k for k, x in enumerate(node.windows) if x.flipped]
        return Code(f"{w.at(ATOM)}.flip({tuple_text(backwards)})") if backwards else w

    def groups(self, node: Convolution | ConvolutionTranspose) -> str:
        group = node.channels.groups
        return f", groups={self.gen.size(group)}" if group is not None else ""

    def options(self, fs: list[Frame]) -> str:
        """stride= and dilation=, where they are not 1."""
        strides, dilations = [f.stride for f in fs], [f.dilation for f in fs]
        return self.keyword("stride", strides, 1) + self.keyword("dilation", dilations, 1)

    def keyword(self, name: str, values: list[int], default: int | None) -> str:
        if default is not None and all(value == default for value in values):
            return ""
        return f", {name}={self.value(values)}"

    def value(self, values: list[int] | list[str]) -> str:
        """One value where all are the same, else a tuple."""
        texts = [str(value) for value in values]
        return texts[0] if len(set(texts)) == 1 else tuple_text(texts)

    def padded(self, x: Code, fs: list[Frame], keep: bool = True) -> tuple[Code, list[int]]:
        """`x` (spatial axes last) with each frame's zeros added: as the kernel's `padding`
        where they are the same on both sides (and `keep`), else by `F.pad`."""
        if keep and all(f.padding is not None for f in fs):
            return x, [int(f.padding or 0) for f in fs]
        clamped = [f.clamped() for f in fs]
        if all(c is not None for c in clamped):
            x = self.cut(x, fs)
            pads = [(str(c[2]), str(c[3])) for c in clamped if c is not None]
        else:
            pads = [(f.before.text(), f.after.text()) for f in fs]
        if any(pad != ("0", "0") for pad in pads):
            x = self.padding(x, pads)
        return x, [0] * len(fs)

    def cut(self, x: Code, fs: list[Frame]) -> Code:
        """The elements of the last axes that the frames keep (a view)."""
        kept = [(f.clamped() or (0, 0, 0, 0))[:2] for f in fs]
        cuts = [
            ":" if (first, stop) == (0, f.length.constant) else f"{first or ''}:{stop}"
            for (first, stop), f in zip(kept, fs, strict=True)
        ]
        if all(cut == ":" for cut in cuts):
            return x
        return Code(f"{x.at(ATOM)}[..., {', '.join(cuts)}]")

    def pad(self, x: Code, fs: list[Frame]) -> Code:
        """`x` framed along its last axes."""
        return self.padded(x, fs, keep=False)[0]

    def padding(self, x: Code, pads: list[tuple[str, str]]) -> Code:
        """`F.pad` of the last axes, the last first: negative amounts cut off."""
        amounts = [amount for pad in reversed(pads) for amount in pad]
        return Code(f"{F}.pad({x.text}, [{', '.join(amounts)}])")

    def arranged(self, x: Code, labels: tuple[str, ...], wanted: list[Slot]) -> Code:
        """`x` with its axes as `wanted` lists them (None: a new length-1 axis)."""
        present = [label for label in wanted if label is not None]
        x = self.reordered(x, labels, tuple(present))
        if None not in wanted:
            return x
        entries = ["None" if label is None else ":" for label in wanted]
        while entries[-1] == ":":
            entries.pop()
        return Code(f"{x.at(ATOM)}[{', '.join(entries)}]")

    def unarranged(self, x: Code, slots: list[Slot], labels: tuple[str, ...]) -> Code:
        """A kernel's result, axes `slots`, with the length-1 ones dropped, as `labels`."""
        if None in slots:
            entries = ["0" if label is None else ":" for label in slots]
            while entries[-1] == ":":
                entries.pop()
            x = Code(f"{x.at(ATOM)}[{', '.join(entries)}]")
        present = tuple(label for label in slots if label is not None)
        return self.reordered(x, present, labels)

    def unfolded(self, node: Pool, x: Code, fs: list[Frame], lead: int) -> Code:
        """The mean or sum over windows that `Tensor.unfold` makes (views) of the axes after
        the `lead` first; each window axis is added last."""
        for k, f in enumerate(fs):
            x = Code(f"{x.at(ATOM)}.unfold({lead + k}, {window_span(self.gen, f)}, {f.stride})")
        if any(f.dilation > 1 for f in fs):
            x = Code(f"{x.at(ATOM)}[..., {', '.join(f'::{f.dilation}' for f in fs)}]")
        op = "mean" if node.op == "mean" else "sum"
        return Code(f"{x.at(ATOM)}.{op}({tuple_text(list(range(-len(fs), 0)))})")


def shaped_as_weight_gradient(node: Convolution, fs: list[Frame]) -> bool:
    """Whether `node` computes the weight gradient of a convolution: windows longer than its
    output on every axis, known sizes and even zeros on both sides, no groups, a batch and a
    summed channel (the other convolution's channels and batch), the window running
    forwards, and each window as long as the output that other convolution gives
    (`conv*d_weight` checks it)."""
    c = node.channels
    if c.groups is not None or c.batch is None or c.input is None or c.output is None:
        return False
    for f in fs:
        if not (f.size.isdigit() and f.kernel.isdigit()) or f.window.flipped:
            return False
        size, kernel, length = int(f.size), int(f.kernel), f.length.number
        if length is None or f.padding is None:
            return False
        # the other convolution: stride f.dilation, dilation f.stride, kernel `size` long
        reach = length + 2 * f.padding - f.stride * (size - 1) - 1
        if reach < 0 or reach // f.dilation + 1 != kernel or kernel <= size:
            return False
    return True
