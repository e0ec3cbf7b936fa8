"""PyTorch code for reads and writes at positions (`tensorc.codegen.places` and, for the fast
forms chosen by measurement, `tensorc.codegen.lookups`): the helpers the generated modules
define, and the generator's methods that call them. Everything is out of place, so autograd
works through every form."""

from __future__ import annotations

from tensorc.codegen import Code, Generator, lookups
from tensorc.codegen.slices import WINDOW_HELPERS
from tensorc.ir import nodes as ir

PLACES_HELPERS: dict[str, str] = {}

PLACES_HELPERS["_pad_axis"] = '''
def _pad_axis(x, axis, before, after, mode):
    """x padded along one axis: zeros ("constant"), its edge ("edge") or wrapped ("wrap")."""
    axis = axis % x.ndim
    if mode == "constant":
        return torch.nn.functional.pad(x, [0, 0] * (x.ndim - axis - 1) + [before, after])
    n = x.shape[axis]
    positions = torch.arange(-before, n + after, device=x.device)
    positions = positions.clamp(0, n - 1) if mode == "edge" else positions % n
    return x.index_select(axis, positions)
'''

PLACES_HELPERS["_window"] = '''
def _window(x, axis, offset, counts, steps):
    """A view of x with `axis` replaced by window axes: element [j1, j2, ...] of them is
    element offset + steps[0] * j1 + steps[1] * j2 + ... of the axis. Nothing is copied."""
    axis = axis % x.ndim
    x = x.movedim(axis, -1)[..., offset:]
    shape = tuple(x.shape[:-1]) + tuple(counts)
    strides = tuple(x.stride()[:-1]) + tuple(step * x.stride(-1) for step in steps)
    view = x.as_strided(shape, strides, x.storage_offset())
    return view.movedim(tuple(range(x.ndim - 1, view.ndim)), tuple(range(axis, axis + len(counts))))
'''

PLACES_HELPERS["_in_range"] = '''
def _in_range(positions, size, what):
    """The positions as an index (int32 or int64), where all are integers in 0..size-1; else
    an IndexError naming one. One pass (aminmax) when all are in range. Traced (torch.compile,
    torch.export) the check is an assertion in the graph, which needs no sync."""
    if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
        raise IndexError(f"{what} must be an integer, not {positions.dtype}")
    if positions.dtype not in (torch.int32, torch.int64):
        positions = positions.long()  # torch would take uint8 positions for a mask
    if torch.compiler.is_compiling():  # traced: an assertion in the graph, with no sync
        inside = ((positions >= 0) & (positions < size)).all()
        torch._assert_async(inside, f"{what} is outside its axis")
    elif positions.numel():
        low, high = torch.aminmax(positions)
        if low.item() < 0 or high.item() >= size:
            bad = positions[(positions < 0) | (positions >= size)][0].item()
            raise IndexError(f"{what} is {bad}, outside 0 to {size - 1}")
    return positions
'''

PLACES_HELPERS["_scatter"] = '''
def _scatter(into, shape, index, values, accumulate):
    """values written at index into into (or into zeros of shape), out of place; every value
    written to one place is added up if accumulate."""
    if into is None:
        into = torch.zeros(shape, dtype=values.dtype, device=values.device)
    dtype = torch.promote_types(into.dtype, values.dtype)
    index = tuple(
        i if isinstance(i, torch.Tensor) else torch.tensor(i, device=values.device) for i in index
    )
    return into.to(dtype).index_put(index, values.to(dtype), accumulate=accumulate)
'''

PLACES_HELPERS.update(WINDOW_HELPERS)
PLACES_HELPERS["_add_windows"] = '''
def _add_windows(into, shape, values, starts, steps):
    """into (or zeros of shape), out of place, with values added at windows (see
    _window_pieces): one strided slice per offset, far faster than index_put at index tensors."""
    if into is None:
        out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    else:
        out = into.to(torch.promote_types(into.dtype, values.dtype), copy=True)
    if not all(isinstance(n, int) for n in values.shape):  # symbolic sizes, traced: a loop
        # over them would fix them, so one index_put with accumulation writes instead
        def arange(n):
            return torch.arange(n, device=values.device)

        index = _window_positions(tuple(values.shape), starts, steps, arange)
        index = [torch.as_tensor(i, device=values.device) for i in index]
        return out.index_put(tuple(index), values.to(out.dtype), accumulate=True)
    values, steps = _tiled(values, steps)
    for target, value in _window_pieces(tuple(values.shape), starts, steps):
        out[target] += values[value]
    return out
'''

PLACES_HELPERS["_take"] = '''
def _take(x, positions, axis):
    """x read at positions along axis, which becomes the positions' axes: index_select on the
    positions flattened (on CPU several times faster than x[positions])."""
    if positions.ndim == 1:
        return x.index_select(axis, positions)
    axis = axis % x.ndim
    found = x.index_select(axis, positions.reshape(-1))
    return found.reshape(x.shape[:axis] + positions.shape + x.shape[axis + 1 :])
'''

PLACES_HELPERS["_take_or_zero"] = '''
def _take_or_zero(x, positions, axis):
    """x read at positions along axis, which becomes the positions' axes, with zeros where a
    position is not one of 0..size-1 (nor a whole number): what a one-hot product gives.
    Integer positions all in range (one aminmax pass) are read as they are, on the CPU and
    not traced: elsewhere that test would wait for the device, or depend on the data."""
    axis = axis % x.ndim
    size = x.shape[axis]
    eager = positions.device.type == "cpu" and not torch.compiler.is_compiling()
    if eager and positions.dtype in (torch.int32, torch.int64) and positions.numel():
        low, high = torch.aminmax(positions)
        if low.item() >= 0 and high.item() < size:
            return _take(x, positions, axis)
    if positions.dtype == torch.bool:
        positions = positions.long()
    inside = (positions >= 0) & (positions < size)
    if positions.is_floating_point():
        inside &= positions == positions.floor()
    found = _take(x, torch.where(inside, positions, 0).long(), axis)
    mask = inside.reshape((1,) * axis + inside.shape + (1,) * (x.ndim - axis - 1))
    return torch.where(mask, found, torch.zeros((), dtype=found.dtype, device=found.device))
'''

PLACES_HELPERS["_take_along"] = '''
def _take_along(x, positions, axis):
    """torch.gather, its positions (of x's rank) broadcast along the other axes, as int64."""
    shape = list(x.shape)
    shape[axis] = positions.shape[axis]
    return torch.gather(x, axis, positions.long().expand(shape))
'''

PLACES_HELPERS["_add_at"] = '''
def _add_at(into, shape, positions, values):
    """into (or zeros of shape) with values[p] added to row positions[p] for every p, out of
    place; rows written more than once add up. index_put with accumulate: on CPU faster
    than index_add and scatter_add."""
    if into is None:
        into = torch.zeros(shape, dtype=values.dtype, device=values.device)
    dtype = torch.promote_types(into.dtype, values.dtype)
    return into.to(dtype).index_put((positions,), values.to(dtype), accumulate=True)
'''

PLACES_HELPERS["_cross_entropy"] = '''
def _cross_entropy(logits, target, axis, reduction):
    """logsumexp(logits) - logits at target along axis, per row ("none") or the mean over
    the rows ("mean"): torch's kernel, which wants the classes at axis 1 and int64 targets
    (on CPU it is faster than logsumexp and gather)."""
    if logits.ndim > 1 and axis % logits.ndim != 1:
        logits = logits.movedim(axis, 1)
    if not logits.is_floating_point():
        logits = logits.to(torch.get_default_dtype())
    return torch.nn.functional.cross_entropy(logits, target.long(), reduction=reduction)
'''


class TorchPlaces(Generator):
    """The PyTorch spellings of the fast forms at tensor-valued positions."""

    def take(self, operand: Code, positions: Code, axis: int) -> Code:
        return Code(f"{self.use_helper('_take')}({operand.text}, {positions.text}, {axis})")

    def take_along(self, operand: Code, positions: Code, axis: int) -> Code:
        helper = self.use_helper("_take_along")
        return Code(f"{helper}({operand.text}, {positions.text}, {axis})")

    def cross_entropy(self, node: ir.CrossEntropy, logits: Code, target: Code) -> Code:
        """torch's cross_entropy kernel, the target checked and in the logits' row order."""
        k = node.logits.indices.index(node.classes)
        positions = lookups.class_positions(self, node, target)
        reduction = "mean" if node.mean else "none"
        helper = self.use_helper("_cross_entropy")
        loss = Code(f"{helper}({logits.text}, {positions.text}, {k}, {reduction!r})")
        if node.mean:
            return loss
        rows = tuple(label for label in node.logits.indices if label != node.classes)
        return lookups.reordered(self, loss, rows, node.labels)
