"""JAX's kernels for what `recognise_kernels` finds: `jax.lax.conv_general_dilated` for
convolutions (with `lhs_dilation` for transposed ones) and `jax.lax.reduce_window` for pooling.

`dimension_numbers` names each operand's axes in the order the program stores them ("NHWC",
"HWIO", ...), so no layout needs a transpose; a missing batch or channel axis is a length-1
axis added and dropped again. Padding may be negative (elements cut off), as the frames say.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tensorc.codegen import ATOM, PRODUCT, Code
from tensorc.codegen.frames import Frame, frames, size_sum
from tensorc.codegen.kernels import Kernels, extreme_of_slices, tuple_text
from tensorc.codegen.places import Sum
from tensorc.ir.kernels import Convolution, ConvolutionTranspose, Pool, Windowed
from tensorc.ir.labels import composed

if TYPE_CHECKING:
    from tensorc.backends.jax import JaxGenerator

LAX = "jax.lax"
INITIAL = {"max": "-jnp.inf", "min": "jnp.inf", "sum": "0", "mean": "0"}
COMBINE = {"max": "max", "min": "min", "sum": "add", "mean": "add"}


def letters(node: Windowed) -> dict[str, str]:
    """A letter for each spatial axis, shared by its extent, index and kernel labels."""
    found: dict[str, str] = {}
    for window, letter in zip(node.windows, "DHW"[-len(node.windows) :], strict=True):
        found.update(dict.fromkeys((window.extent, window.index, window.kernel), letter))
    return found


class JaxKernels(Kernels):
    """Writes JAX's kernel calls."""

    gen: JaxGenerator
    one_dtype = True

    def convolution(self, node: Convolution, x: Code, w: Code) -> Code:
        """Zeros are the kernel's `padding`, except where they are a large part of the input:
        XLA's CPU convolution slows down some twenty times then (a Toeplitz product, whose
        padding is as long as the input), and an explicit pad costs little."""
        channels, spatial = node.channels, letters(node)
        fs = frames(self.gen, node)
        wide = [f for f in fs if self.wide(f)]
        if wide:
            x = self.framed(x, node.input.indices, wide)
        x, lhs = self.spec(x, node.input.indices, "NC", channels.batch, channels.input, spatial)
        first, second = channels.weight
        w = self.flipped(w, node.weight.indices, node, [v.flipped for v in node.windows])
        w, rhs = self.spec(w, node.weight.indices, "OI", first, second, spatial)
        out_labels, out = self.out(node.labels, channels.batch, channels.output, spatial)
        fs = self.ordered(
            [replace(f, before=Sum(), after=Sum()) if f in wide else f for f in fs], rhs, spatial
        )
        padding = tuple_text([tuple_text([f.before.text(), f.after.text()]) for f in fs])
        options = self.dilation("rhs_dilation", [f.dilation for f in fs])
        options += self.groups(node) + self.sharded(out_labels)
        call = (
            f"{LAX}.conv_general_dilated({x.text}, {w.text}, "
            f"{tuple_text([f.stride for f in fs])}, {padding}{options}, "
            f"dimension_numbers=({lhs!r}, {rhs!r}, {out!r}))"
        )
        return self.dropped(Code(call), out_labels)

    def convolution_transpose(self, node: ConvolutionTranspose, x: Code, w: Code) -> Code:
        """A convolution of the input spread out by the stride (`lhs_dilation`) with the
        kernel flipped, padded by the window's reach and framed."""
        channels, spatial = node.channels, letters(node)
        x, lhs = self.spec(x, node.input.indices, "NC", channels.batch, channels.input, spatial)
        w, w_labels, inner, outer = self.regrouped(node, w)
        w = self.flipped(w, w_labels, node, [not v.flipped for v in node.windows])
        w, rhs = self.spec(w, w_labels, "IO", inner, outer, spatial)
        out_labels, out = self.out(node.labels, channels.batch, channels.output, spatial)
        fs = self.ordered(frames(self.gen, node), rhs, spatial)
        pads = []
        for f in fs:
            reach = size_sum(self.gen, f.window.kernel).plus(-1).times(f.dilation)
            pads.append(tuple_text([reach.plus(f.before).text(), reach.plus(f.after).text()]))
        options = self.dilation("lhs_dilation", [f.stride for f in fs])
        options += self.dilation("rhs_dilation", [f.dilation for f in fs]) + self.groups(node)
        options += self.sharded(out_labels)
        call = (
            f"{LAX}.conv_general_dilated({x.text}, {w.text}, {tuple_text([1] * len(fs))}, "
            f"{tuple_text(pads)}{options}, dimension_numbers=({lhs!r}, {rhs!r}, {out!r}))"
        )
        return self.dropped(Code(call), out_labels)

    def pool(self, node: Pool, x: Code) -> Code:
        """`reduce_window` over the framed operand (zeros padded explicitly: its own padding
        would read the initial value, -inf for a max), or for a max or min over small windows
        the maximum (minimum) of strided slices, which XLA fuses into one faster pass."""
        sliced = extreme_of_slices(self.gen, node, x, "jnp.stack", f"jnp.{node.op}")
        if sliced is not None:
            return sliced
        labels, fs = node.operand.indices, frames(self.gen, node)
        x = self.framed(x, labels, fs)
        by_extent = {f.window.extent: f for f in fs}
        window = [by_extent[label].kernel if label in by_extent else "1" for label in labels]
        steps = [str(by_extent[label].stride) if label in by_extent else "1" for label in labels]
        dilation = [by_extent[label].dilation if label in by_extent else 1 for label in labels]
        options = self.dilation("window_dilation", dilation)
        found = Code(
            f"{LAX}.reduce_window({x.text}, {INITIAL[node.op]}, {LAX}.{COMBINE[node.op]}, "
            f"{tuple_text(window)}, {tuple_text(steps)}, 'VALID'{options})"
        )
        if node.op == "mean":
            count = " * ".join(f.kernel for f in fs)
            found = Code(
                f"{found.at(PRODUCT)} / {count if len(fs) == 1 else f'({count})'}", PRODUCT
            )
        return found

    # --- pieces ----------------------------------------------------------------------------

    def spec(
        self,
        x: Code,
        labels: tuple[str, ...],
        names: str,
        first: str | None,
        second: str | None,
        spatial: dict[str, str],
    ) -> tuple[Code, str]:
        """An operand and its dimension numbers ("NCHW", "OIHW", ...): `names` are the letters
        of `first` and `second`; where one is missing, a length-1 axis leads for it."""
        missing = "".join(
            name for name, label in zip(names, (first, second), strict=True) if label is None
        )
        letter: dict[str | None, str] = {first: names[0], second: names[1]}
        letter.update(spatial)
        if missing:
            x = Code(f"{x.at(ATOM)}[{', '.join(['None'] * len(missing))}]")
        return x, missing + "".join(letter[label] for label in labels)

    def out(
        self,
        labels: tuple[str, ...],
        batch: str | None,
        channel: str | None,
        spatial: dict[str, str],
    ) -> tuple[list[str | None], str]:
        """The result's axes (None for the length-1 ones it has to drop) and dimension numbers."""
        missing = [name for name, label in (("N", batch), ("C", channel)) if label is None]
        letter: dict[str | None, str] = {batch: "N", channel: "C"}
        letter.update(spatial)
        return [*([None] * len(missing)), *labels], "".join(missing) + "".join(
            letter[x] for x in labels
        )

    def dropped(self, x: Code, slots: list[str | None]) -> Code:
        """The result without the length-1 axes the kernel needed."""
        count = slots.count(None)
        return Code(f"{x.at(ATOM)}[{', '.join(['0'] * count)}]") if count else x

    def framed(self, x: Code, labels: tuple[str, ...], fs: list[Frame]) -> Code:
        """`x` padded by each frame with zeros of its dtype; in generic code by `jax.lax.pad`,
        which cuts off for negative amounts."""
        if all(f.clamped() is not None for f in fs):
            return super().framed(x, labels, fs)  # a slice and jnp.pad, by known amounts
        name = self.gen.name_of(x)
        config = ["(0, 0, 0)"] * len(labels)
        for f in fs:
            config[labels.index(f.window.extent)] = f"({f.before.text()}, {f.after.text()}, 0)"
        return Code(f"{LAX}.pad({name}, jnp.zeros((), {name}.dtype), {tuple_text(config)})")

    def wide(self, f: Frame) -> bool:
        """Whether a frame adds zeros over more than a quarter of the input (known sizes)."""
        extent = size_sum(self.gen, f.window.extent).number
        amounts = (f.before.number, f.after.number)
        if extent is None or None in amounts:
            return False
        return 4 * max(int(amount or 0) for amount in amounts) > extent

    def ordered(self, fs: list[Frame], rhs: str, spatial: dict[str, str]) -> list[Frame]:
        """The frames in the order of the kernel's spatial axes, as JAX reads its arguments."""
        return sorted(fs, key=lambda f: rhs.index(spatial[f.window.kernel]))

    def regrouped(
        self, node: ConvolutionTranspose, w: Code
    ) -> tuple[Code, tuple[str, ...], str | None, str | None]:
        """The weight of a transposed convolution as JAX takes it, with the labels of its
        input and output channel axes: PyTorch's weight is (groups * input channels, output
        channels), JAX's (input channels, groups * output channels)."""
        group, (inner, outer) = node.channels.groups, node.channels.weight
        if group is None:
            return w, node.weight.indices, inner, outer
        w, parts = self.split(w, node.weight.indices)
        kernels = {v.kernel for v in node.windows}
        inner = next((p for p in parts if p not in (group, outer) and p not in kernels), None)
        grouped = composed((group, outer)) if outer is not None else group
        wanted = tuple(
            grouped if p == (outer or group) else p for p in parts if outer is None or p != group
        )
        return self.merged(w, parts, wanted), wanted, inner, grouped

    def flipped(self, w: Code, labels: tuple[str, ...], node: Windowed, flip: list[bool]) -> Code:
        axes = [labels.index(v.kernel) for v, f in zip(node.windows, flip, strict=True) if f]
        return Code(f"jnp.flip({w.text}, {tuple_text(axes)})") if axes else w

    def sharded(self, slots: list[str | None]) -> str:
        """`out_sharding=` for a result with these axes (None: a length-1 axis), where the
        mesh axes are explicit: JAX then asks a convolution for its result's layout."""
        layout = self.gen.layout
        if layout is None or not layout.explicit:
            return ""
        return f", out_sharding={self.gen.partition(tuple(slot or '' for slot in slots))}"

    def dilation(self, name: str, values: list[int]) -> str:
        return "" if all(v == 1 for v in values) else f", {name}={tuple_text(values)}"

    def groups(self, node: Convolution | ConvolutionTranspose) -> str:
        group = node.channels.groups
        return f", feature_group_count={self.gen.size(group)}" if group is not None else ""
