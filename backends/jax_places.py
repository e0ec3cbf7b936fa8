"""JAX code for reads and writes at positions (`tensorc.codegen.places` and, for the fast forms
chosen by measurement, `tensorc.codegen.lookups`): the helpers the generated modules define,
and the generator's methods that call them. Under `jax.jit` nothing can raise, so reads clamp
and writes outside are dropped, as JAX's own indexing does."""

from __future__ import annotations

from tensorc.codegen import Code, Generator

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
    offset + steps[0] * j1 + steps[1] * j2 + ... of the axis (a gather: JAX has no views)."""
    positions = offset
    for k, (count, step) in enumerate(zip(counts, steps)):
        shape = [1] * len(counts)
        shape[k] = count
        positions = positions + step * jnp.arange(count).reshape(shape)
    return jnp.take(x, positions, axis=axis)
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
