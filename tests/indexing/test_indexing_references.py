"""The references of the indexing suite checked against each other (no tensorc involved).

The loop reference follows CONTRACT §6's definitions one element at a time; here it must
equal `torch.nn.functional`'s kernels for the forms the contract says they express, the
"valid"/"same"/`pad(e, p)` size rules must equal the kernels' output sizes, NumPy's padding
modes must be what `clamp`/`wrap` mean, and the JAX and grouped-convolution references must
be what the tests assume. These pass whatever the state of tensorc."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from indexing_support import loop_reference, parse_axis, randn, t, torch_conv, torch_pool


def largest_valid_size(positions: list[str], length: int, fixed: dict[str, int]) -> int:
    """The contract's "valid" rule by brute force: the largest size of the free index (the
    first name of the first position) for which every position is in [0, length)."""
    axes = [parse_axis(text) for text in positions]
    free = axes[0].terms[0][1]
    best = 0
    for size in range(1, 4 * length + 2):
        others = [range(fixed[name]) for name in fixed]
        ok = all(
            0 <= axis.position({free: value, **dict(zip(fixed, combo, strict=True))}) < length
            for axis in axes
            for value in range(size)
            for combo in itertools.product(*others)
        )
        if ok:
            best = size
    return best


@pytest.mark.parametrize("length", [5, 6, 7, 8])
@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_the_valid_rule_is_the_kernels_output_size(length: int, kernel: int, stride: int) -> None:
    position = f"{stride}*h + kh" if stride > 1 else "h + kh"
    size = largest_valid_size([position], length, {"kh": kernel})
    assert size == (length - kernel) // stride + 1  # the contract's formula
    x, w = randn(1, 1, length), randn(1, 1, kernel)
    assert torch_conv(x, w, stride=stride).shape[-1] == size


@pytest.mark.parametrize("length", [5, 6, 7, 8])
@pytest.mark.parametrize("stride", [1, 2])
def test_same_size_is_pytorch_padding_one_for_a_three_wide_kernel(length: int, stride: int) -> None:
    x, w = randn(1, 1, length), randn(1, 1, 3)
    assert torch_conv(x, w, stride=stride, padding=1).shape[-1] == math.ceil(length / stride)


@pytest.mark.parametrize("padding", [1, 2])
def test_pad_e_p_keeps_the_valid_rule_over_the_padded_extent(padding: int) -> None:
    length, kernel = 6, 3
    position = f"h + kh - {padding}"
    shifted = f"h + kh - {padding} + {padding}"  # the position in the padded tensor
    size = largest_valid_size([shifted], length + 2 * padding, {"kh": kernel})
    assert size == length + 2 * padding - kernel + 1
    x, w = randn(1, 1, length), randn(1, 1, kernel)
    want = torch_conv(x, w, padding=padding)
    assert want.shape[-1] == size
    got = loop_reference(
        (size,),
        "h",
        {"h": size, "kh": kernel},
        [(x[0, 0], f"pad({position}, {padding})"), (w[0, 0], "kh")],
    )
    np.testing.assert_allclose(got, want[0, 0], rtol=1e-12)


def test_loop_conv2d_is_f_conv2d_valid_stride_dilation() -> None:
    x, w = randn(2, 3, 9, 8), randn(4, 3, 3, 2, seed=1)
    for stride, dilation in [(1, 1), (2, 1), (1, 2), (2, 2)]:
        want = torch_conv(x, w, stride=stride, dilation=dilation)
        n, o, h, ww = want.shape
        s = f"{stride}*" if stride > 1 else ""
        d = f"{dilation}*" if dilation > 1 else ""
        got = loop_reference(
            want.shape,
            "n, o, h, w",
            {"n": n, "o": o, "h": h, "w": ww, "c": 3, "kh": 3, "kw": 2},
            [(x, f"n, c, {s}h + {d}kh, {s}w + {d}kw"), (w, "o, c, kh, kw")],
        )
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_loop_same_padding_with_an_even_kernel_is_asymmetric() -> None:
    """`pad(h + kh - 1)` with a 4-wide kernel reads h - 1 .. h + 2: one zero before, two after."""
    x, w = randn(1, 2, 6, 5), randn(3, 2, 4, 4, seed=1)
    want = torch_conv(F.pad(t(x), (1, 2, 1, 2)).numpy(), w)
    got = loop_reference(
        (1, 3, 6, 5),
        "n, o, h, w",
        {"n": 1, "o": 3, "h": 6, "w": 5, "c": 2, "kh": 4, "kw": 4},
        [(x, "n, c, pad(h + kh - 1), pad(w + kw - 1)"), (w, "o, c, kh, kw")],
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_loop_causal_depthwise_conv1d() -> None:
    x, w = randn(2, 3, 10), randn(3, 4, seed=1)
    want = F.conv1d(F.pad(t(x), (3, 0)), t(w).flip(-1)[:, None, :], groups=3).numpy()
    got = loop_reference(
        (2, 3, 10),
        "n, c, t",
        {"n": 2, "c": 3, "t": 10, "k": 4},
        [(x, "n, c, pad(t - k)"), (w, "c, k")],
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_loop_affine_write_is_conv_transpose2d(stride: int) -> None:
    x, w = randn(2, 3, 4, 5), randn(3, 4, 3, 2, seed=1)
    want = F.conv_transpose2d(t(x), t(w), stride=stride).numpy()
    assert want.shape[2:] == ((4 - 1) * stride + 3, (5 - 1) * stride + 2)  # smallest target
    s = f"{stride}*" if stride > 1 else ""
    got = loop_reference(
        want.shape,
        f"n, o, {s}h + kh, {s}w + kw",
        {"n": 2, "o": 4, "h": 4, "w": 5, "c": 3, "kh": 3, "kw": 2},
        [(x, "n, c, h, w"), (w, "c, o, kh, kw")],
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (3, 1)])
def test_loop_pools_are_max_pool2d_and_avg_pool2d(kernel: int, stride: int) -> None:
    x = randn(2, 3, 8, 7)
    for kind, reduce in [("max", "max"), ("avg", "mean")]:
        want = torch_pool(kind, x, kernel, stride)
        n, c, h, w = want.shape
        s = f"{stride}*" if stride > 1 else ""
        got = loop_reference(
            want.shape,
            "n, c, h, w",
            {"n": n, "c": c, "h": h, "w": w, "kh": kernel, "kw": kernel},
            [(x, f"n, c, {s}h + kh, {s}w + kw")],
            reduce=reduce,
        )
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_loop_padded_mean_is_avg_pool2d_counting_the_padding() -> None:
    x = randn(1, 2, 7, 6)
    want = torch_pool("avg", x, 3, 2, padding=1, count_include_pad=True)
    got = loop_reference(
        want.shape,
        "n, c, h, w",
        {"n": 1, "c": 2, "h": want.shape[2], "w": want.shape[3], "kh": 3, "kw": 3},
        [(x, "n, c, pad(2*h + kh - 1, 1), pad(2*w + kw - 1, 1)")],
        reduce="mean",
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("boundary", "mode"), [("clamp", "edge"), ("wrap", "wrap"), ("pad", "constant")]
)
def test_clamp_and_wrap_are_numpys_edge_and_wrap_padding(boundary: str, mode: str) -> None:
    a, w = randn(7), randn(5, seed=1)
    padded = np.pad(a, 2, mode=mode)
    want = np.array([padded[i : i + 5] @ w for i in range(7)])
    got = loop_reference((7,), "i", {"i": 7, "k": 5}, [(a, f"{boundary}(i + k - 2)"), (w, "k")])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_wrap_beyond_one_period_is_a_roll() -> None:
    a = randn(5)
    got = loop_reference((5,), "i", {"i": 5}, [(a, "wrap(i + 7)")])
    np.testing.assert_array_equal(got, np.roll(a, -7))
    np.testing.assert_array_equal(got, np.pad(a, (0, 7), mode="wrap")[7:])


@pytest.mark.parametrize("groups", [1, 2, 3])
def test_composed_channel_axes_are_pytorch_groups(groups: int) -> None:
    """`O[n, (g o), t] = X[n, (g c), t + k] * W[(g o), c, k]`: (g c) splits the channel axis
    row-major, g outer, so group g is the contiguous block of channels g*C .. (g+1)*C - 1 of
    X and of W's output channels, which is what F.conv1d(groups=G) computes."""
    cin, cout = 2, 3
    x, w = randn(2, groups * cin, 9), randn(groups * cout, cin, 3, seed=1)
    want = torch_conv(x, w, groups=groups)
    xs = x.reshape(2, groups, cin, 9)  # (n, g, c, t): the split of (g c)
    ws = w.reshape(groups, cout, cin, 3)  # (g, o, c, k)
    blocks = [torch_conv(xs[:, g], ws[g]) for g in range(groups)]
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), want, rtol=1e-12, atol=1e-12)


def test_jax_conv_general_dilated_nhwc_is_f_conv2d() -> None:
    x, w = randn(2, 8, 7, 3), randn(3, 2, 3, 4, seed=1)  # NHWC, HWIO
    got = jax.lax.conv_general_dilated(
        jnp.asarray(x),
        jnp.asarray(w),
        window_strides=(2, 1),
        padding=((1, 1), (0, 0)),
        rhs_dilation=(1, 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    want = torch_conv(
        x.transpose(0, 3, 1, 2),
        w.transpose(3, 2, 0, 1),
        stride=(2, 1),
        padding=(1, 0),
        dilation=(1, 2),
    ).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_jax_clip_and_drop_modes_for_non_negative_positions() -> None:
    """What "gathers clamp and scatters drop, as JAX does" means for positions past the end
    (negative positions are out of range in tensorc, so they are compared with np.clip and a
    mask in the tests, not with JAX's wrap-around normalisation)."""
    table = randn(5, 2)
    ids = np.array([0, 4, 5, 9, 2])
    got = table.copy()
    got = np.asarray(jnp.asarray(table).at[jnp.asarray(ids)].get(mode="clip"))
    np.testing.assert_array_equal(got, table[np.clip(ids, 0, 4)])
    x = randn(5, 2, seed=1)
    added = jnp.zeros((5, 2)).at[jnp.asarray(ids)].add(jnp.asarray(x), mode="drop")
    want = np.zeros((5, 2))
    keep = ids < 5
    np.add.at(want, ids[keep], x[keep])
    np.testing.assert_allclose(np.asarray(added), want, rtol=1e-12)


def test_torch_cross_entropy_is_logsumexp_minus_the_pick() -> None:
    z, y = randn(5, 7) + 1000.0, np.array([0, 6, 3, 3, 1])
    want = F.cross_entropy(t(z), t(y), reduction="none").numpy()
    top = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
    np.testing.assert_allclose(lse - z[np.arange(5), y], want, rtol=1e-10, atol=1e-10)
    assert np.isfinite(want).all()


def test_torch_argmax_is_the_first_on_ties() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert torch.argmax(t(x), dim=1).tolist() == [1, 0] == np.argmax(x, axis=1).tolist()
    assert np.asarray(jnp.argmax(jnp.asarray(x), axis=1)).tolist() == [1, 0]
