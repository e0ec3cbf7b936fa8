"""The plan key of a call without keywords (`plans.signature`, written out for up to three
arguments): every arity finds its plan again, and a new type or shape of any one argument
makes a new plan, for NumPy arrays, torch tensors and Python numbers alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc import plans

# y = the sum of n inputs, each over i
SOURCES = {n: " + ".join(f"x{k}[i]" for k in range(n)) for n in range(1, 6)}


@pytest.mark.parametrize("n", sorted(SOURCES))
def test_each_arity_finds_its_plan_and_tells_types_and_shapes_apart(n, count_generated):
    f = tc.compile(f"y[i] = {SOURCES[n]}  # signature {n}", backend="numpy", passes=())
    arrays = [np.arange(3.0) + k for k in range(n)]
    for _ in range(3):
        np.testing.assert_allclose(f(*arrays), sum(arrays))
    assert len(count_generated) == 1
    for k in range(n):  # one argument of another shape, then of another type: new plans
        longer = [np.arange(4.0) + j for j in range(n)]
        np.testing.assert_allclose(f(*longer), sum(longer))
        tensors = [*arrays[:k], torch.as_tensor(arrays[k]), *arrays[k + 1 :]]
        np.testing.assert_allclose(np.asarray(f(*tensors)), sum(arrays))
    assert len(count_generated) == 2 + n
    assert all(len(key) == 2 * n for key in f._plans)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_the_key_is_the_types_then_the_shapes(n):
    values = [np.zeros((k + 1, 2)) if k % 2 else 2.5 for k in range(n)]
    key = plans.signature(values)
    assert key == (*map(type, values), *[getattr(v, "shape", None) for v in values])
    assert plans.signature(tuple(values)) == key


def test_python_numbers_and_zero_dimensional_arrays_get_their_own_plans(count_generated):
    f = tc.compile("y[i] = x[i] * s  # signature scalars", passes=())
    x = np.arange(3.0)
    np.testing.assert_allclose(f(x, 2.0), 2 * x)
    np.testing.assert_allclose(f(x, np.float64(3.0)), 3 * x)
    np.testing.assert_allclose(f(x, np.array(4.0)), 4 * x)
    np.testing.assert_allclose(f(x, 5.0), 5 * x)
    assert len(count_generated) == 3
