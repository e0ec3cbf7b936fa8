"""How a backend writes matrix products: `@`, with vectors shaped for it. `Generator`
inherits these NumPy-style forms; backends override them."""

from __future__ import annotations

from tensorc.codegen.code import ATOM, PRODUCT, Code
from tensorc.ir import nodes as ir


class Products:
    """Matrix products (`ir.MatMul`), for `Generator`."""

    module: str  # the backend library's name (`Generator.module`)

    def matmul(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        """`left @ right`; a batched vector gets a length-1 axis for the product, then loses it.
        A vector with no batch axes needs neither: numpy's matmul rules handle it."""
        left_plain = node.left_vector and len(node.left.indices) == 1
        right_plain = node.right_vector and len(node.right.indices) == 1
        left_padded = node.left_vector and not left_plain
        right_padded = node.right_vector and not right_plain
        dot = self.dot(node, left, right) if left_padded and right_padded else None
        if dot is not None:
            return dot
        a = Code(f"{left.at(ATOM)}[..., None, :]") if left_padded else left
        b = Code(f"{right.at(ATOM)}[..., None]") if right_padded else right
        product = self.product(node, a, b)
        if left_padded and right_padded:
            return Code(f"{product.at(ATOM)}[..., 0, 0]")
        if left_padded:
            return Code(f"{product.at(ATOM)}[..., 0{'' if right_plain else ', :'}]")
        if right_padded:
            return Code(f"{product.at(ATOM)}[..., 0]")
        return product

    def dot(self, node: ir.MatMul, left: Code, right: Code) -> Code | None:
        """Dot products of two batches of vectors along their last axes, in the dtype `@`
        gives: einsum, not a batched matmul of 1 x n by n x 1 (several times slower). None
        leaves it to that matmul."""
        return Code(f"{self.module}.einsum('...i,...i->...', {left.text}, {right.text})")

    def product(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        """The matrix product of two operands shaped for it."""
        return Code(f"{left.at(PRODUCT)} @ {right.at(PRODUCT + 1)}", PRODUCT)
