"""tc.einsum on PyTorch: operands and results as torch.einsum has them."""

from __future__ import annotations

from typing import Any

import numpy as np


def einsum_operand(value: object, like: object = None) -> object:
    """A list or a number as a tensor on the device of `like`, a tensor among the other
    operands (torch.einsum itself takes tensors only)."""
    import torch

    device = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(forward_strides(value), device=device)


def einsum_result(value: object, operands: list[object]) -> object:
    """torch.einsum's result: a tensor (0-d for a scalar), of the dtype torch's own sums and
    products give, as torch.einsum's do."""
    import torch

    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def forward_strides(value: Any) -> Any:
    """A NumPy array that is a reversed view as a copy (torch takes no negative strides)."""
    if isinstance(value, np.ndarray) and any(stride < 0 for stride in value.strides):
        return value.copy()
    return value
