"""PyTorch code: plain tensor operations, so autograd, devices and dtypes work as in eager code."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorc.backends import Backend, GradientRequest, owned_by_modules, torch_kernels
from tensorc.backends.torch_einsum import einsum_operand, einsum_result, forward_strides
from tensorc.backends.torch_norms import NORM_HELPERS, TorchNorms
from tensorc.backends.torch_places import PLACES_HELPERS, TorchPlaces
from tensorc.backends.torch_tracing import TRACER, compiled
from tensorc.codegen import ATOM, PRODUCT, Code
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import ELLIPSIS
from tensorc.ops import OPS, Kind

# How PyTorch writes each operation that is not a Python operator (see `Generator.spell`).
SPELLINGS = {
    "floordiv": 'torch.div({0}, {1}, rounding_mode="floor")',  # `//` has no derivative
    "not": "torch.logical_not",
    "and": "torch.logical_and",
    "or": "torch.logical_or",
    "exp": "torch.exp",
    "log": "torch.log",
    "sqrt": "torch.sqrt",
    "abs": "torch.abs",
    "tanh": "torch.tanh",
    "sin": "torch.sin",
    "cos": "torch.cos",
    "erf": "torch.erf",
    "floor": "torch.floor",
    "ceil": "torch.ceil",
    "round": "torch.round",
    "sign": "torch.sign",
    "log1p": "torch.log1p",
    "expm1": "torch.expm1",
    "softplus": "torch.nn.functional.softplus",  # x itself beyond 20 (off by < 2e-9)
    "silu": "torch.nn.functional.silu",
    "gelu": "torch.nn.functional.gelu",  # the exact (erf) form by default
    "sigmoid": "torch.sigmoid",
    "relu": "torch.relu",
    "maximum": "torch.maximum",  # a number bound becomes torch.clamp: see `_extremum`
    "minimum": "torch.minimum",
    "where": "torch.where",
    "clip": "torch.clamp",
    "sum": "torch.sum",
    "prod": "torch.prod",  # one dim at a time: see `reduce`
    "max": "torch.amax",
    "min": "torch.amin",
    "mean": "torch.mean",
    "logsumexp": "torch.logsumexp",
    "var": "torch.var({0}, dim={axis}, correction=0)",  # population, as NumPy
    "std": "torch.std({0}, dim={axis}, correction=0)",
    "any": "torch.any",
    "all": "torch.all",
    "argmax": "torch.argmax",
    "argmin": "torch.argmin",
    "softmax": "torch.softmax",
    "cumsum": "torch.cumsum",
    "log_softmax": "torch.log_softmax",
    "cumprod": "torch.cumprod",
}


_HELPERS = {
    "_scalar": '''
def _scalar(x):
    """A Python number as a 0-d tensor (floats in double precision); tensors pass through."""
    if isinstance(x, torch.Tensor):
        return x
    return torch.tensor(x, dtype=torch.float64 if isinstance(x, float) else None)
''',
    **NORM_HELPERS,  # what `TorchNorms.normalise` calls
}


_HELPERS["_common_dtype"] = '''
def _common_dtype(*tensors):
    """The tensors in one dtype, torch's promotion of theirs: matmul will not mix dtypes."""
    dtype = tensors[0].dtype
    for tensor in tensors[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return tuple(t if t.dtype == dtype else t.to(dtype) for t in tensors)
'''

_HELPERS["_like"] = '''
def _like(x, other):
    """x, made from the program's numbers, in the dtype its numbers take beside other."""
    if x.is_floating_point():
        dtype = other.dtype if other.is_floating_point() else torch.get_default_dtype()
    else:
        dtype = torch.int64 if other.dtype == torch.bool else other.dtype
    return x.to(dtype)
'''

_HELPERS["_matmul"] = '''
def _matmul(a, b):
    """a @ b for sides that may differ in dtype (a sum widens integers): torch's promotion."""
    if a.dtype != b.dtype:
        a, b = _common_dtype(a, b)
    return a @ b
'''

_HELPERS.update(PLACES_HELPERS)

_HELPERS.update(torch_kernels.HELPERS)  # the kernels' own (backends/torch_kernels.py)


class TorchGenerator(TorchNorms, TorchPlaces):  # a Generator, with kernels and places
    """Generates a PyTorch module; new tensors (aranges) are made on the inputs' device."""

    module = "torch"
    imports = ("import torch",)
    helpers = _HELPERS
    spellings = SPELLINGS
    axis_keyword = "dim"
    kernel_forms = torch_kernels.TorchKernels
    idioms = torch_kernels.IDIOMS

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        texts = [arg.text for arg in args]
        if op in ("maximum", "minimum"):
            return self._extremum(op, args, scalars)
        if op == "clip" and _is_number(texts[1]) != _is_number(texts[2]):
            # torch.clamp takes two numbers or two tensors as bounds, not one of each
            low = self._extremum("maximum", args[:2], scalars[:2])
            return self._extremum("minimum", [low, args[2]], [False, scalars[2]])
        if op != "where":  # torch functions take tensors (bounds and divisors may be numbers)
            texts[0] = self._tensor(texts[0], scalars[0])
        if OPS[op].kind is Kind.LOGICAL:
            texts = [
                self._tensor(text, scalar) for text, scalar in zip(texts, scalars, strict=True)
            ]
        return self.spell(op, texts)

    def _tensor(self, text: str, scalar: bool) -> str:
        """Generated text for a tensor: a numeric literal becomes one, and so does another
        value that is a Python number (`0.5 * 2`), in double precision as a scalar input."""
        if _is_number(text):
            return f"torch.tensor({text})"
        return f"{self.use_helper('_scalar')}({text})" if scalar else text

    def python_number(self, node: ir.Node) -> bool:
        """Only values made of the program's numbers: scalar inputs are tensors on entry."""
        return super().python_number(node) and self.facts.dtypes.constant(node)

    def as_float(self, operand: Code, scalar: bool) -> Code:
        """Integers in torch's default dtype, as torch.exp makes them (torch.mean refuses);
        a Python number becomes a tensor, which torch's functions make floating."""
        return operand if scalar else Code(f"{operand.at(ATOM)}.to(torch.get_default_dtype())")

    def like(self, constant: Code, other: str, integral: bool) -> Code:
        """As torch.result_type(other, number) would say, which torch.compile cannot trace."""
        return Code(f"{self.use_helper('_like')}({constant.text}, {other})")

    def inplace_function(self, op: str, operand: Code) -> Code | None:
        return Code(f"{operand.at(ATOM)}.{op}_()")

    def _extremum(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        """torch.maximum takes only tensors: a number becomes a clamp bound instead."""
        bound = "min" if op == "maximum" else "max"
        a, b = args
        if _is_number(a.text) and _is_number(b.text):
            a = Code(f"torch.tensor({a.text})")
        if _is_number(b.text):
            return Code(f"torch.clamp({a.text}, {bound}={b.text})")
        if _is_number(a.text):
            return Code(f"torch.clamp({b.text}, {bound}={a.text})")
        return self.spell(op, [a.text, b.text])

    def entry_lines(self) -> list[str]:
        """Scalar inputs become 0-d tensors, so that torch functions accept them; a Python
        float keeps its double precision (a 0-d tensor does not promote the others). Tensors
        that meet in a matmul get one dtype, as `*` would give them."""
        scalars = [self.params[spec.name] for spec in self.program.inputs if spec.is_scalar]
        lines = [f"{name} = {self.use_helper('_scalar')}({name})" for name in scalars]
        multiplied = [self.params[name] for name in self.facts.matmul_inputs]
        if len(multiplied) > 1:
            names = ", ".join(multiplied)
            same = " == ".join(f"{name}.dtype" for name in multiplied)
            lines.append(
                f"if not {same}:"
                if len(multiplied) > 2
                else f"if {multiplied[0]}.dtype != {multiplied[1]}.dtype:"
            )
            lines.append(f"    {names} = {self.use_helper('_common_dtype')}({names})")
        return lines

    def arange(self, size: str) -> Code:
        device = f", device={self.first_tensor}.device" if self.first_tensor else ""
        return Code(f"torch.arange({size}{device})")

    def transpose(self, operand: Code, perm: tuple[int, ...]) -> Code:
        if perm == (1, 0):
            return Code(f"{operand.at(ATOM)}.T")
        return Code(f"{operand.at(ATOM)}.permute({', '.join(map(str, perm))})")

    def moveaxis(self, operand: Code, source: list[int], destination: list[int]) -> Code:
        return Code(f"torch.movedim({operand.text}, {tuple(source)}, {tuple(destination)})")

    def diagonal(self, operand: Code, first: int, second: int) -> Code:
        return Code(f"torch.diagonal({operand.text}, 0, {first}, {second})")

    def as_array(self, text: str) -> str:
        return f"torch.as_tensor({text})"

    def full(self, shape: str, value: Code) -> Code:
        device = f", device={self.first_tensor}.device" if self.first_tensor else ""
        exact = "" if _is_number(value.text) else ", dtype=torch.float64"  # a computed number
        return Code(f"torch.full({shape}, {value.text}{exact}{device})")

    def broadcast_to(self, operand: Code, shape: str) -> Code:
        return Code(f"{operand.at(ATOM)}.expand({shape})")

    def reduce(self, op: str, operand: Code, axes: tuple[int, ...]) -> Code:
        if op == "prod":
            # torch.prod takes one dim at a time: go from the outside in so the rest keep their place
            for axis in sorted(axes, reverse=axes[0] >= 0):
                operand = self.spell(op, [operand.text], str(axis))
            return operand
        return super().reduce(op, operand, axes)

    def attention(self, node: ir.Attention, *args: Code) -> Code:
        """PyTorch's fused kernel. Its `scale` must be a Python float, so a scale computed
        from the inputs multiplies the queries instead (which keeps its gradient too)."""
        query, key, value, scale = args
        causal = ", is_causal=True" if node.causal else ""
        if isinstance(node.scale, ir.Const):
            factor = f"scale={node.scale.value!r}"
        else:
            query = self.map("mul", [query, scale], [False, True])
            factor = "scale=1.0"
        return Code(
            "torch.nn.functional.scaled_dot_product_attention("
            f"{query.text}, {key.text}, {value.text}, {factor}{causal})"
        )

    def matmul(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        """`torch.bmm` where both sides are 3-D with the same batch index: it skips the
        broadcasting checks of `@`, which cost ~20% on small batched products."""
        a, b = node.left.indices, node.right.indices
        plain = not (node.left_vector or node.right_vector)
        if plain and len(a) == len(b) == 3 and a[0] == b[0] != ELLIPSIS and self._same(node):
            return Code(f"torch.bmm({left.text}, {right.text})")
        return super().matmul(node, left, right)

    def product(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        """`_matmul` where a side may not have the dtype the inputs were given on entry."""
        if self._same(node):
            return super().product(node, left, right)
        return Code(f"{self.use_helper('_matmul')}({left.text}, {right.text})")

    def dot(self, node: ir.MatMul, left: Code, right: Code) -> Code | None:
        """`(a * b).sum(-1)` in the sides' one dtype (a sum widens integers), 3-4x faster."""
        if not self._same(node):
            return None  # `_matmul`, which gives them one dtype
        a = self.name_of(left)
        return Code(f"({a} * {right.at(PRODUCT + 1)}).sum(-1, dtype={a}.dtype)")

    def _same(self, node: ir.MatMul) -> bool:
        """Whether both sides have the one dtype the inputs that meet in products have."""
        dtypes = self.facts.dtypes
        return not (dtypes.drifting(node.left) or dtypes.drifting(node.right))

    def swap_last(self, operand: Code) -> Code:
        return Code(f"{operand.at(ATOM)}.transpose(-1, -2)")


def _is_number(text: str) -> bool:
    """Whether generated text is a numeric literal (math.inf and math.pi included)."""
    bare = text.lstrip("-").removeprefix("math.")
    if bare in ("inf", "pi"):
        return True
    try:
        float(bare)
    except ValueError:
        return False
    return True


# --- the runtime record ---------------------------------------------------------------------


def _from_numpy(array: Any) -> Any:
    import torch

    return torch.as_tensor(forward_strides(array))


def _to_numpy(value: Any) -> np.ndarray:
    return np.asarray(value.detach().cpu().numpy())


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A float32 tensor of any shape over one element (a stride-0 view)."""
    import torch

    return torch.zeros((), dtype=torch.float32).expand(shape)


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return value.sum(dim=axes, keepdim=keepdims)


def _gradients(request: GradientRequest) -> list[np.ndarray]:
    """`torch.autograd.grad` of the weighted sum of the outputs (zeros where unused)."""
    import torch

    values = list(request.arguments)
    leaves = [values[k].requires_grad_(True) for k in request.wrt]
    found = request.call(*values)
    total = torch.zeros((), dtype=getattr(torch, request.dtype))
    for k, weight in request.cotangents.items():
        total = total + (found[k] * weight).sum()
    if not total.requires_grad:  # no output depends on a tensor input
        return [np.zeros(leaf.shape) for leaf in leaves]
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [
        np.zeros(leaf.shape) if g is None else g.detach().cpu().numpy().astype(np.float64)
        for leaf, g in zip(leaves, grads, strict=True)
    ]


BACKEND = Backend(
    name="torch",
    module="torch",
    generator=TorchGenerator,
    owns=owned_by_modules("torch"),
    from_numpy=_from_numpy,
    to_numpy=_to_numpy,
    placeholder=_placeholder,
    sum=_sum,
    einsum_operand=einsum_operand,
    einsum_result=einsum_result,
    gradients=_gradients,
    unsharded='tensorc does not lower to torch\'s DTensor: shard with backend="jax", or lay '
    "the tensors out with torch.distributed.tensor yourself",
    tracer=TRACER,
    jit=compiled,
)
