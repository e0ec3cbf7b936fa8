"""JAX code for reads and writes at positions (`tensorc.codegen.places` and, for the fast forms
chosen by measurement, `tensorc.codegen.lookups`): the helpers the generated modules define,
and the generator's methods that call them. Under `jax.jit` nothing can raise, so reads clamp
and writes outside are dropped, as JAX's own indexing does."""

from __future__ import annotations

from tensorc.codegen import Code, Generator
from tensorc.codegen.slices import WINDOW_HELPERS

PLACES_HELPERS: dict[str, str] = {
    "_pad_axis": '''
def _pad_axis(x, axis, before, after, mode):
    """x padded along one axis: zeros ("constant"), its edge ("edge") or wrapped ("wrap")."""
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return jnp.pad(x, widths, mode=mode)
''',
    "_window": '''
def _window(x, axis, offset, counts, steps):
    """x with `axis` replaced by window axes: element [j1, j2, ...] of them is element
    offset + steps[0] * j1 + steps[1] * j2 + ... of the axis. Tiles are a reshape; other
    windows strided slices along the longest window axis, one per offset of the others,
    stacked: XLA fuses them into what reads them, where a gather is a loop; a gather where the
    slices would be many."""
    axis = axis % x.ndim
    if len(counts) == 2 and steps[1] == 1 and steps[0] == counts[1]:  # tiles: a reshape
        part = jax.lax.slice_in_dim(x, offset, offset + counts[0] * counts[1], 1, axis)
        return part.reshape(x.shape[:axis] + tuple(counts) + x.shape[axis + 1 :])
    pieces = list(_window_pieces(tuple(counts), (offset,), (tuple(steps),)))
    if not pieces or len(pieces) > 64:  # an empty window, or many slices: a gather
        (positions,) = _window_positions(tuple(counts), (offset,), (tuple(steps),), jnp.arange)
        return jnp.take(x, positions, axis=axis)
    run = pieces[0][1].index(slice(None))  # the window axis the slices run along
    others = [m for m in range(len(counts)) if m != run]
    slices = [jax.lax.slice_in_dim(x, t.start, t.stop, t.step, axis) for (t,), _ in pieces]
    window = (counts[run], *(counts[m] for m in others))
    stacked = jnp.stack(slices, axis + 1).reshape(x.shape[:axis] + window + x.shape[axis + 1 :])
    source = tuple(range(axis, axis + len(counts)))
    return jnp.moveaxis(stacked, source, tuple(axis + m for m in (run, *others)))
''',
    "_clipped": '''
def _clipped(positions, size, what):
    """Positions from data, clamped into 0..size-1: under jax.jit nothing can raise, and
    JAX's gathers clamp (negative positions too, which Python would wrap around)."""
    if not jnp.issubdtype(positions.dtype, jnp.integer):
        raise IndexError(f"{what} must be an integer, not {positions.dtype}")
    return jnp.clip(positions, 0, size - 1)
''',
    "_dropped": '''
def _dropped(positions, size, what):
    """Positions from data, a negative one moved past the end, where JAX drops the write
    (instead of wrapping around, as Python would)."""
    if not jnp.issubdtype(positions.dtype, jnp.integer):
        raise IndexError(f"{what} must be an integer, not {positions.dtype}")
    return jnp.where(positions < 0, size, positions)
''',
    "_scatter": '''
def _scatter(into, shape, index, values, accumulate):
    """values written at index into into (or into zeros of shape); every value written to
    one place is added up if accumulate; values written outside are dropped, as JAX does."""
    values = jnp.asarray(values)
    if into is None:
        into = jnp.zeros(shape, values.dtype)
    dtype = jnp.result_type(into, values)
    target = into.astype(dtype).at[index]
    if accumulate:
        return target.add(values.astype(dtype), mode="drop")
    return target.set(values.astype(dtype), mode="drop")
''',
}


PLACES_HELPERS.update(WINDOW_HELPERS)
PLACES_HELPERS["_add_windows"] = '''
def _add_windows(into, shape, values, starts, steps):
    """into (or zeros of shape) with values added at windows (see _window_pieces): each
    piece padded out to the target (lax.pad, its interior padding for the strides) and
    added, which XLA fuses into one pass, where a scatter is a loop."""
    values = jnp.asarray(values)
    out = jnp.zeros(shape, values.dtype) if into is None else into
    dtype = jnp.result_type(out, values)
    out, zero = out.astype(dtype), jnp.zeros((), dtype)
    values, steps = _tiled(values, steps)
    pieces = list(_window_pieces(values.shape, starts, steps))
    if len(pieces) > 64:  # each piece is a pass in the compiled program: one scatter instead
        index = tuple(_window_positions(values.shape, starts, steps, jnp.arange))
        return out.at[index].add(values.astype(dtype))
    for target, value in pieces:
        fixed = tuple(axis for axis, place in enumerate(target) if not isinstance(place, slice))
        piece = jnp.expand_dims(values[value].astype(dtype), fixed)
        widths = []
        for size, place, count in zip(shape, target, piece.shape):
            if isinstance(place, slice):
                end = place.start + place.step * (count - 1) + 1
                widths.append((place.start, size - end, place.step - 1))
            else:
                widths.append((place, size - place - 1, 0))
        out = out + jax.lax.pad(piece, zero, widths)
    return out
'''

PLACES_HELPERS["_pool_derivative"] = '''
def _pool_derivative(x, m, g, starts, axes, sizes, kernel, strides, dilations):
    """The derivative of a max or min m over windows of x, with cotangent g: g / the number of
    elements equal to m in the window, times 1 at those and 0 elsewhere, added up where
    windows overlap, as the derivative program writes it, computed one window offset at a
    time. Windows that tile their axes interleave the offsets' shares (a stack and a
    reshape); overlapping ones pad each share out to x's shape (lax.pad) and add them."""
    pieces = [index for _, index in _window_slices(x.ndim, starts, axes, sizes, kernel, strides, dilations)]
    hits = [x[index] == m for index in pieces]
    counted = x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else int  # JAX's default int
    count = sum(hit.astype(counted) for hit in hits)
    share = g / count
    shares = [share * hit for hit in hits]
    if all(d == 1 and s == k for k, s, d in zip(kernel, strides, dilations)):
        return _interleaved(shares, x.shape, starts, axes, kernel)
    out, zero = jnp.zeros(x.shape, share.dtype), jnp.zeros((), share.dtype)
    for index, piece in zip(pieces, shares):
        widths = [(0, 0, 0)] * x.ndim
        for axis in axes:
            place, n = index[axis], piece.shape[axis]
            end = place.start + place.step * (n - 1) + 1
            widths[axis] = (place.start, x.shape[axis] - end, place.step - 1)
        out = out + jax.lax.pad(piece, zero, widths)
    return out
'''
PLACES_HELPERS["_interleaved"] = '''
def _interleaved(shares, shape, starts, axes, kernel):
    """An array of `shape` holding, along each of `axes`, windows that tile it from starts[i]
    on: element k of the window at h is shares[offset with k][.., h, ..] (the offsets in
    row-major order, as _window_slices makes them), zeros where no window reaches."""
    first = shares[0]
    block = jnp.stack(shares, axis=-1).reshape(first.shape + tuple(kernel))
    order, merged = [], []
    for axis, n in enumerate(first.shape):
        order.append(axis)
        if axis in axes:
            order.append(first.ndim + axes.index(axis))
            n = n * kernel[axes.index(axis)]
        merged.append(n)
    block = block.transpose(order).reshape(merged)
    widths = [(0, 0)] * len(shape)
    for axis, start in zip(axes, starts):
        widths[axis] = (start, shape[axis] - start - merged[axis])
    return jnp.pad(block, widths) if any(w != (0, 0) for w in widths) else block
'''

# The idioms' helpers (`tensorc.codegen.idioms`): the formula itself for bool and integer x
# (under jax.jit the dtype is known while tracing, so only one branch is traced).
PLACES_HELPERS["_zeros_like"] = '''
def _zeros_like(x):
    """0 * x ** 0: zeros in x's shape and dtype, written at once where x is floating."""
    return jnp.zeros_like(x) if jnp.issubdtype(x.dtype, jnp.inexact) else 0 * x ** 0
'''
PLACES_HELPERS["_ones_like"] = '''
def _ones_like(x):
    """x ** 0: ones in x's shape and dtype, written at once where x is floating."""
    return jnp.ones_like(x) if jnp.issubdtype(x.dtype, jnp.inexact) else x ** 0
'''
PLACES_HELPERS["_count"] = '''
def _count(c, x, axes):
    """sum(where(c, x ** 0, 0)) over axes: counted in integers where x is floating (a float
    sum over axes that are not the last is several times slower under XLA)."""
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.sum(c, axis=axes).astype(x.dtype)
    return jnp.sum(jnp.where(c, x ** 0, 0), axis=axes)
'''
PLACES_HELPERS["_sum_of_products"] = '''
def _sum_of_products(x, y, axes):
    """sum(x * y) over axes, in the dtype of x * y (as einsum gives it): XLA fuses the
    product into the sum, where einsum's dot needs both operands, transposed, in memory.
    16-bit floats are multiplied and summed in float32, as the dot would."""
    dtype = jnp.result_type(x, y)
    if jnp.issubdtype(dtype, jnp.floating) and jnp.finfo(dtype).bits < 32:
        wide = x.astype(jnp.float32) * y.astype(jnp.float32)
        return jnp.sum(wide, axis=axes).astype(dtype)
    return jnp.sum(x * y, axis=axes, dtype=dtype)
'''

PLACES_HELPERS["_transposed_times"] = '''
def _transposed_times(a, b):
    """a.T @ b. XLA's CPU dot reads a transposed left operand slowly where its free axis is
    the longer (1.6x at 512 x 512 by 512 x 64, 2.9x at 512 x 2048 by 512 x 32): there it
    computes (b.T @ a).T, behind a barrier that keeps XLA from folding the transpose back."""
    if a.shape[1] <= b.shape[1] or jax.default_backend() != "cpu":
        return a.T @ b
    return jax.lax.optimization_barrier(b.T @ a).T
'''

PLACES_HELPERS["_take_or_zero"] = '''
def _take_or_zero(x, positions, axis):
    """x read at positions along axis, which becomes the positions' axes: what a one-hot
    product gives where the positions are rows of x. A position outside is read as JAX's
    gathers read it, clamped (zeros there would cost a pass over the result, several times
    the gather itself on CPU); one that is not a whole number is truncated first."""
    positions = jnp.asarray(positions)
    if not jnp.issubdtype(positions.dtype, jnp.integer):
        positions = positions.astype(int)
    return jnp.take(x, jnp.clip(positions, 0, x.shape[axis] - 1), axis=axis, mode="clip")
'''

PLACES_HELPERS["_add_at"] = '''
def _add_at(into, shape, positions, values):
    """into (or zeros of shape) with values[p] added to row positions[p] for every p; rows
    written more than once add up, and writes outside are dropped, as JAX does."""
    values = jnp.asarray(values)
    if into is None:
        into = jnp.zeros(shape, values.dtype)
    dtype = jnp.result_type(into, values)
    return into.astype(dtype).at[positions].add(values.astype(dtype), mode="drop")
'''


class JaxPlaces(Generator):
    """The JAX spellings of positions' checks and of the fast forms."""

    def checked_read(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions from data, clamped into range (see the `_clipped` helper)."""
        what = f"a position in {tensor}"
        return Code(f"{self.use_helper('_clipped')}({positions.text}, {size}, {what!r})")

    def checked_write(self, positions: Code, size: str, tensor: str) -> Code:
        """Positions from data, negative ones dropped (see the `_dropped` helper)."""
        what = f"a position in {tensor}"
        return Code(f"{self.use_helper('_dropped')}({positions.text}, {size}, {what!r})")

    def take(self, operand: Code, positions: Code, axis: int) -> Code:
        """jnp.take of clamped positions: "clip" costs nothing, its default "fill" does."""
        return Code(f'jnp.take({operand.text}, {positions.text}, axis={axis}, mode="clip")')

    def take_along(self, operand: Code, positions: Code, axis: int) -> Code:
        text = f'jnp.take_along_axis({operand.text}, {positions.text}, axis={axis}, mode="clip")'
        return Code(text)
