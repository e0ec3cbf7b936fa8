"""PyTorch code: plain tensor operations, so autograd, devices and dtypes work as in eager code."""

from __future__ import annotations

from tensorc.codegen import ATOM, Code, Generator
from tensorc.ir import nodes as ir

_FUNCTIONS = {
    "exp": "torch.exp",
    "log": "torch.log",
    "sqrt": "torch.sqrt",
    "abs": "torch.abs",
    "tanh": "torch.tanh",
    "sin": "torch.sin",
    "cos": "torch.cos",
    "sigmoid": "torch.sigmoid",
    "relu": "torch.relu",
}
_REDUCTIONS = {
    "sum": "torch.sum",
    "max": "torch.amax",
    "min": "torch.amin",
    "mean": "torch.mean",
    "logsumexp": "torch.logsumexp",
}


class TorchGenerator(Generator):
    """Generates a PyTorch module; new tensors (aranges) are made on the inputs' device."""

    module = "torch"
    imports = ("import torch",)

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        texts = [arg.text for arg in args]
        if op in ("maximum", "minimum"):
            return self._extremum(op, args, scalars)
        if op == "where":
            return Code(f"torch.where({', '.join(texts)})")
        if scalars[0]:
            # torch functions take tensors, and a scalar input may be a Python number
            texts[0] = f"torch.as_tensor({texts[0]}, dtype=torch.float64)"
        return Code(f"{_FUNCTIONS[op]}({texts[0]})")

    def _extremum(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        """torch.maximum takes only tensors: a scalar becomes a clamp bound instead."""
        bound = "min" if op == "maximum" else "max"
        a, b = args
        if scalars[1]:
            return Code(f"torch.clamp({a.text}, {bound}={b.text})")
        if scalars[0]:
            return Code(f"torch.clamp({b.text}, {bound}={a.text})")
        return Code(f"torch.{op}({a.text}, {b.text})")

    def arange(self, size: str) -> Code:
        device = f", device={self.first_tensor}.device" if self.first_tensor else ""
        return Code(f"torch.arange({size}{device})")

    def transpose(self, operand: Code, perm: tuple[int, ...]) -> Code:
        return Code(f"{operand.at(ATOM)}.permute({', '.join(map(str, perm))})")

    def moveaxis(self, operand: Code, source: list[int], destination: list[int]) -> Code:
        return Code(f"torch.movedim({operand.text}, {tuple(source)}, {tuple(destination)})")

    def diagonal(self, operand: Code, first: int, second: int) -> Code:
        return Code(f"torch.diagonal({operand.text}, 0, {first}, {second})")

    def broadcast_to(self, operand: Code, shape: str) -> Code:
        return Code(f"{operand.at(ATOM)}.expand({shape})")

    def reduce(self, op: str, operand: Code, axes: tuple[int, ...]) -> Code:
        if op == "prod":
            text = operand.text
            # torch.prod takes one dim at a time: go from the outside in so the rest keep their place
            for axis in sorted(axes, reverse=axes[0] >= 0):
                text = f"torch.prod({text}, dim={axis})"
            return Code(text)
        dim = str(axes[0]) if len(axes) == 1 else str(axes)
        return Code(f"{_REDUCTIONS[op]}({operand.text}, dim={dim})")

    def along(self, op: str, operand: Code, axis: int) -> Code:
        return Code(f"torch.{op}({operand.text}, dim={axis})")

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

    def swap_last(self, operand: Code) -> Code:
        return Code(f"{operand.at(ATOM)}.transpose(-1, -2)")
