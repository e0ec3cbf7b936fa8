"""The derivative benchmarks (issue 13) compute what they claim: on tiny inputs every
gradient variant (hand-written autograd, tc.grad, tc.vjp, torch.func.grad, fused kernels) and
the two forward passes agree, on every installed framework."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import tensorc as tc
from benchmarks import frameworks
from benchmarks.gradient_losses import LOSSES
from benchmarks.workloads import Env, Variant, Workload
from benchmarks.workloads_gradients import WORKLOADS

INSTALLED = [fw for fw in frameworks.FRAMEWORKS if importlib.util.find_spec(fw) is not None]


def test_every_gradient_workload_has_its_loss() -> None:
    for workload in WORKLOADS:
        loss = LOSSES[workload.name]
        inputs = tc.compile(loss.source).inputs
        assert tuple(inputs[k] for k in loss.positions) == loss.wrt, workload.name


def results(workload: Workload, framework: str) -> dict[str, np.ndarray]:
    fw = frameworks.load(framework, 1)
    arrays = workload.make_inputs(np.random.default_rng(0), workload.quick_sizes)
    inputs = tuple(fw.from_numpy(a) for a in arrays)
    program = tc.compile(workload.source, backend=framework)
    env = Env(fw, tc, program, None, inputs, workload.quick_sizes, quick=True)
    found: dict[str, np.ndarray] = {}
    for variant in workload.variants:
        if framework in variant.frameworks:
            found[variant.key] = run(variant, env)
    return found


def run(variant: Variant, env: Env) -> np.ndarray:
    fn = variant.build(env)
    if variant.jit:
        fn = env.fw.jit(fn)
    value = fn(*env.inputs)
    parts = value if isinstance(value, tuple) else (value,)
    return np.concatenate([np.asarray(env.fw.to_numpy(p), dtype=np.float64).ravel() for p in parts])


@pytest.mark.parametrize("framework", INSTALLED)
@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_gradient_variants_agree(workload: Workload, framework: str) -> None:
    found = results(workload, framework)
    reference = found.get("hand-written", found["tensorc"])
    for key, value in found.items():
        if not key.startswith("forward"):
            np.testing.assert_allclose(value, reference, rtol=2e-4, atol=2e-5, err_msg=key)
    if "forward (hand-written)" in found:
        np.testing.assert_allclose(
            found["forward (tensorc)"], found["forward (hand-written)"], rtol=2e-4, atol=2e-5
        )
