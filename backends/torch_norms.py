"""PyTorch's kernels for the norms that `tensorc.passes.fuse_normalisations` recognises:
`F.layer_norm` and `F.rms_norm`, called through helpers that give the dtype the written-out
formula would (torch's promotion of x, the gain and the bias)."""

from __future__ import annotations

from tensorc.codegen import Code, Generator
from tensorc.ir import nodes as ir

NORM_HELPERS = {  # what `TorchNorms.normalise` calls: name -> source
    "_norm_dtype": '''
def _norm_dtype(x, weight, bias):
    """x, weight and bias (None where absent) in one floating dtype, torch's promotion of
    theirs: what the written-out formula computes in, and what the kernels want."""
    dtype = x.dtype
    if (
        dtype.is_floating_point
        and (weight is None or weight.dtype == dtype)
        and (bias is None or bias.dtype == dtype)
    ):  # the common case, answered first: the general one costs a microsecond per call
        return x, weight, bias
    for t in (weight, bias):
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.get_default_dtype()
    return tuple(t if t is None or t.dtype == dtype else t.to(dtype) for t in (x, weight, bias))
''',
    "_layer_norm": '''
def _layer_norm(x, shape, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axes: torch's kernel."""
    x, weight, bias = _norm_dtype(x, weight, bias)
    return torch.nn.functional.layer_norm(x, shape, weight, bias, eps)
''',
    "_rms_norm": '''
def _rms_norm(x, shape, weight, eps):
    """x / sqrt(mean(x ** 2) + eps) * weight over the last axes. On the CPU in float32 and
    float64: a norm (no square of x made) and one product, the weight multiplied in place, as
    torch's kernel there makes three temporaries the size of x and is slower for it
    (docs/graph-compilers.md); elsewhere torch's kernel (the formula before torch 2.4)."""
    x, weight, _ = _norm_dtype(x, weight, None)
    dims = tuple(range(-len(shape), 0))
    if dims and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        count = 1
        for size in shape:
            count = count * size
        square = torch.linalg.vector_norm(x, 2, dims, True).square() / count
        y = torch.mul(x, torch.rsqrt(square + eps))
        return y if weight is None else y.mul_(weight)
    if hasattr(torch.nn.functional, "rms_norm"):
        return torch.nn.functional.rms_norm(x, shape, weight, eps)
    square = torch.mean(x * x, dim=dims, keepdim=True)
    y = x * torch.rsqrt(square + eps)
    return y if weight is None else y * weight
''',
}


class TorchNorms(Generator):
    """A generator whose layer norms and RMS norms are one kernel call (`TorchGenerator`)."""

    norms = frozenset({"layer", "rms"})

    def normalise(self, node: ir.Normalise, operand: Code, gain: Code, bias: Code) -> Code:
        shape = "(" + ", ".join(self.size(label) for label in node.normalised) + ",)"
        weight = "None" if isinstance(node.gain, ir.Const) else gain.text
        if node.kind == "layer":
            offset = "None" if isinstance(node.bias, ir.Const) else bias.text
            helper = self.use_helper("_layer_norm")
            return Code(f"{helper}({operand.text}, {shape}, {weight}, {offset}, {node.eps!r})")
        code = Code(
            f"{self.use_helper('_rms_norm')}({operand.text}, {shape}, {weight}, {node.eps!r})"
        )
        return (
            code if isinstance(node.bias, ir.Const) else self.map("add", [code, bias], [False] * 2)
        )
