"""The NumPy backend's helpers for the kernels' forms (`tensorc.codegen.kernels`): one
strided view per window offset, written as source into the generated modules."""

from __future__ import annotations

KERNEL_HELPERS: dict[str, str] = {}

KERNEL_HELPERS["_framed"] = '''
def _framed(x, axes, before, after):
    """x with zeros added along each of axes, before[i] and after[i] of them (a negative
    amount cuts that many elements off instead; cutting more than there is leaves zeros)."""
    cuts, widths = [slice(None)] * x.ndim, [(0, 0)] * x.ndim
    for axis, b, a in zip(axes, before, after):
        n, total = x.shape[axis], max(0, x.shape[axis] + b + a)
        first = min(max(-b, 0), n)
        stop = max(first, min(max(total - b, 0), n))
        low = min(max(b, 0), total)
        cuts[axis] = slice(first, stop)
        widths[axis] = (low, total - low - (stop - first))
    return np.pad(x[tuple(cuts)], widths)
'''

KERNEL_HELPERS["_windows"] = '''
def _windows(x, axes, sizes, kernel, strides, dilations):
    """Each window offset k with the view of x that it reads for every output: along axes[i],
    the elements dilations[i] * k[i] + strides[i] * h for h < sizes[i] (a view, no copy)."""
    starts = (0,) * len(axes)
    for offset, index in _window_slices(x.ndim, starts, axes, sizes, kernel, strides, dilations):
        yield offset, x[index]
'''

KERNEL_HELPERS["_pool_derivative"] = '''
def _pool_derivative(x, m, g, starts, axes, sizes, kernel, strides, dilations):
    """The derivative of a max or min m over windows of x, with cotangent g: g / the number of
    elements equal to m in the window, times 1 at those and 0 elsewhere, added up where
    windows overlap, as the derivative program writes it, computed one window offset at a time."""
    pieces = [index for _, index in _window_slices(x.ndim, starts, axes, sizes, kernel, strides, dilations)]
    hits = [x[index] == m for index in pieces]
    counted = x.dtype if x.dtype.kind in "fc" else np.int64  # a sum widens small integers
    count = sum(hit.astype(counted) for hit in hits)
    share = g / count
    out = np.zeros(x.shape, share.dtype)
    for index, hit in zip(pieces, hits):
        out[index] += share * hit
    return out
'''

KERNEL_HELPERS["_window_reduce"] = '''
def _window_reduce(x, ufunc, axes, sizes, kernel, strides, dilations):
    """ufunc (np.maximum, np.minimum, np.add) over the windows of x, one offset at a time:
    far faster than reducing the trailing axes of a window view. Sums widen small integers."""
    out = None
    for _, view in _windows(x, axes, sizes, kernel, strides, dilations):
        if out is None:
            out = np.sum(view, axis=()) if ufunc is np.add else view.copy()
        else:
            ufunc(out, view, out=out)
    return out
'''

KERNEL_HELPERS["_window_dot"] = '''
def _window_dot(x, weight, axes, sizes, strides, dilations):
    """The sum over window offsets k of x's window elements at k times weight[..., k]: the
    weight's last axes are the window's, its others broadcast against x's (a depthwise
    convolution, with no copy of x into windows)."""
    kernel = weight.shape[weight.ndim - len(axes):]
    out = None
    for offset, view in _windows(x, axes, sizes, kernel, strides, dilations):
        term = view * weight[(..., *offset)]
        if out is None:
            out = term
        else:
            out += term
    return out
'''

KERNEL_HELPERS["_window_add"] = '''
def _window_add(out, values, axes, strides, dilations):
    """out with values[k] added at its window offset k (values' first axes): along axes[i],
    value h goes to dilations[i] * k[i] + strides[i] * h (a transposed convolution's adds,
    one strided view of out per offset)."""
    kernel = values.shape[: len(axes)]
    sizes = [values.shape[len(axes) + axis] for axis in axes]
    for offset, view in _windows(out, axes, sizes, kernel, strides, dilations):
        view += values[offset]
    return out
'''
