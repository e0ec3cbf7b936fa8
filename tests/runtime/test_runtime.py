"""The runtime: program and plan caches, argument binding, choosing and converting backends,
`function_for`, and calls from many threads."""

from __future__ import annotations

import contextlib
import inspect
import threading
import timeit

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import tensorc as tc
from tensorc import plans, runtime

MATMUL = "C[i, k] = A[i, j] * B[j, k]"
SPLIT = "X[b, h, n, d] = Y[b, n, (h d)]"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --- the program cache ----------------------------------------------------------------------


def test_compiling_the_same_source_twice_returns_the_same_program():
    assert tc.compile(MATMUL) is tc.compile(MATMUL)
    assert tc.compile(MATMUL, backend="jax") is tc.compile(MATMUL, backend="jax")


def test_the_cache_key_includes_backend_and_passes():
    programs = [
        tc.compile(MATMUL),
        tc.compile(MATMUL, backend="numpy"),
        tc.compile(MATMUL, backend="torch"),
        tc.compile(MATMUL, backend="numpy", passes=()),
    ]
    assert len({id(p) for p in programs}) == len(programs)


def test_einsum_programs_are_cached_apart_from_programs():
    a = runtime.compile_program("ij,jk->ik", einsum=True)
    assert runtime.compile_program("ij,jk->ik", einsum=True) is a
    assert a.inputs == ("x0", "x1")


def test_program_cache_is_a_bounded_lru():
    cache = runtime.ProgramCache(capacity=2)
    made = []

    def make(name):
        def build():
            made.append(name)
            return tc.compile(f"{name}[i] = x[i]")

        return build

    first = cache.get("a", make("a"))
    cache.get("b", make("b"))
    assert cache.get("a", make("a")) is first  # a hit, and now the most recent
    cache.get("c", make("c"))  # evicts b, the least recently used
    assert list(cache.entries) == ["a", "c"]
    cache.get("b", make("b"))
    assert made == ["a", "b", "c", "b"]
    assert len(cache.entries) == 2


# --- the plan cache -------------------------------------------------------------------------


def test_a_plan_is_made_once_per_signature(count_generated, rng):
    f = tc.compile("D[i, k] = A[i, j] * B[j, k]  # for this test", backend="numpy", passes=())
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for _ in range(3):
        np.testing.assert_allclose(f(a, b), a @ b)
    assert len(count_generated) == 1
    f(rng.standard_normal((5, 3)), b)
    assert len(count_generated) == 2
    f(A=a, B=b)  # by name: the same signature
    assert len(count_generated) == 2


def test_the_plan_cache_per_program_is_bounded(monkeypatch, rng):
    monkeypatch.setattr(plans, "PLANS_PER_PROGRAM", 4)
    f = tc.compile("y[i] = x[i] * 2 + 1", backend="numpy", passes=())
    for n in range(1, 11):
        x = rng.standard_normal(n)
        np.testing.assert_allclose(f(x), 2 * x + 1)
        assert len(f._plans) <= 4
    x = rng.standard_normal(1)  # its plan was evicted; a new one is made
    np.testing.assert_allclose(f(x), 2 * x + 1)


def test_default_plan_limit():
    assert plans.PLANS_PER_PROGRAM == 64


def test_a_cached_call_adds_only_microseconds(rng):
    f = tc.compile(MATMUL, backend="numpy")
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    direct = f.function_for(a, b)
    f(a, b)
    number = 2000
    through = min(timeit.repeat(lambda: f(a, b), number=number, repeat=5)) / number
    generated = min(timeit.repeat(lambda: direct(a, b), number=number, repeat=5)) / number
    assert through - generated < 50e-6, (through, generated)


# --- binding arguments ----------------------------------------------------------------------


def test_positional_keyword_and_mixed_arguments(rng):
    f = tc.compile(MATMUL, backend="numpy")
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for result in (f(a, b), f(A=a, B=b), f(B=b, A=a), f(a, B=b)):
        np.testing.assert_allclose(result, a @ b)


def test_inputs_and_outputs():
    f = tc.compile("u[i] = w[i] * 2\nv[i] = u[i] + x[i]\nreturn u, v")
    assert f.inputs == ("w", "x")
    assert f.outputs == ("u", "v")
    a, b = f(np.ones(2), np.zeros(2))
    np.testing.assert_allclose(a, 2.0)
    np.testing.assert_allclose(b, 2.0)


def test_single_return_is_not_a_tuple():
    assert isinstance(tc.compile("u[i] = w[i] * 2\nreturn u")(np.ones(2)), np.ndarray)


def test_size_keywords(rng):
    f = tc.compile(SPLIT, backend="numpy")
    y = rng.standard_normal((2, 5, 12))
    expected = y.reshape(2, 5, 3, 4).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(f(y, h=3), expected)
    np.testing.assert_allclose(f(Y=y, h=3), expected)
    np.testing.assert_allclose(f(y, d=4), expected)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f, a, b: f(a), tc.TensorcError, "missing argument for input 'B'"),
        (lambda f, a, b: f(B=b), tc.TensorcError, "missing argument for input 'A'"),
        (
            lambda f, a, b: f(a, b, a),
            tc.TensorcError,
            "expected 2 inputs (A, B) but got 3 arguments",
        ),
        (lambda f, a, b: f(a, b, A=a), tc.TensorcError, "input 'A' is given twice"),
        (
            lambda f, a, b: f(a, b, q=3),
            tc.ShapeError,
            "unknown keyword argument 'q': it is not an index",
        ),
        (lambda f, a, b: f(a, "B"), tc.TensorcError, "expected an array or a number, got str"),
        (lambda f, a, b: f(a, [1.0]), tc.TensorcError, "expected an array or a number, got list"),
        (lambda f, a, b: f(a, a), tc.ShapeError, "index 'j' has size 3 in A but size 2 in B"),
    ],
)
def test_bad_arguments_are_tensorc_errors(call, error, message, rng):
    f = tc.compile(MATMUL, backend="numpy")
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    with pytest.raises(error) as caught:
        call(f, a, b)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1.0,), {}, "missing argument for input 'y'"),
        ((1.0, 2.0, 3.0), {}, "expected 2 inputs (x, y) but got 3 arguments"),
        ((1.0,), {"x": 2.0}, "input 'x' is given twice"),
    ],
)
def test_programs_and_derivatives_bind_arguments_alike(args, kwargs, message):
    """One binding (runtime.bind) serves compiled programs and derivatives."""
    source = "L = x * y"
    program = tc.compile(source, backend="numpy")
    derivative = tc.grad(source, wrt="x", backend="numpy")
    assert derivative.inputs == program.inputs == ("x", "y")
    for function in (program, derivative):
        with pytest.raises(tc.TensorcError) as caught:
            function(*args, **kwargs)
        assert caught.value.message == message
    with pytest.raises(tc.TensorcError) as caught:  # sizes are checked in keyword order
        runtime.bind(("x",), (), {"h": -1}, runtime.size_keyword)
    assert caught.value.message == "the size h=-1 must be a non-negative int"
    assert runtime.bind(("x", "y"), (1,), {"y": 2, "h": 3}) == ({"x": 1, "y": 2}, {"h": 3})


@pytest.mark.parametrize("value", [3.0, -1, True, "3", None])
def test_size_keywords_must_be_non_negative_ints(value, rng):
    f = tc.compile(SPLIT, backend="numpy")
    with pytest.raises(tc.TensorcError, match="must be a non-negative int"):
        f(rng.standard_normal((2, 5, 12)), h=value)


def test_missing_size_keyword(rng):
    with pytest.raises(tc.ShapeError, match="the size of index 'h' cannot be inferred"):
        tc.compile(SPLIT)(rng.standard_normal((2, 5, 12)))


def test_scalar_input_given_an_array():
    f = tc.compile("Y[i] = alpha * X[i]")
    with pytest.raises(tc.ShapeError) as caught:
        f(np.ones(3), np.ones(3))
    assert caught.value.message == "'alpha' is used as a scalar but the argument has shape (3,)"


def test_backend_failures_become_tensorc_errors():
    # Python numbers divide as Python does: 1 / 0 fails inside the generated function.
    f = tc.compile("y = 1 / alpha", backend="numpy")
    with pytest.raises(tc.TensorcError, match="the generated numpy code failed") as caught:
        f(0)
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


# --- choosing and converting backends -------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (np.asarray, np.ndarray),
        (torch.as_tensor, torch.Tensor),
        (jnp.asarray, jax.Array),
    ],
)
def test_backend_none_follows_the_argument_types(make, kind, rng):
    f = tc.compile(MATMUL)
    assert f.backend is None
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    result = f(make(a), make(b))
    assert isinstance(result, kind)
    np.testing.assert_allclose(np.asarray(result), a @ b, rtol=1e-5)


def test_scalars_with_an_array_follow_the_array(rng):
    f = tc.compile("Y[i] = alpha * X[i]")
    assert isinstance(f(2.0, torch.ones(3)), torch.Tensor)
    assert isinstance(f(2.0, jnp.ones(3)), jax.Array)
    assert isinstance(f(2.0, np.ones(3)), np.ndarray)


def test_generic_source_is_numpy():
    assert "import numpy as np" in tc.compile(MATMUL).source


@pytest.mark.parametrize(
    ("first", "second", "kinds"),
    [
        (np.ones((2, 3)), torch.ones(3, 4), "numpy and torch"),
        (jnp.ones((2, 3)), np.ones((3, 4)), "jax and numpy"),
        (torch.ones(2, 3), jnp.ones((3, 4)), "jax and torch"),
    ],
)
def test_mixing_array_kinds_without_a_backend_is_an_error(first, second, kinds):
    with pytest.raises(tc.TensorcError) as caught:
        tc.compile(MATMUL)(first, second)
    assert caught.value.message == (
        f"the arguments mix {kinds} arrays: pass one kind, or name the backend"
    )


@pytest.mark.parametrize(
    ("backend", "kind"),
    [("torch", torch.Tensor), ("jax", jax.Array), ("numpy", np.ndarray)],
)
def test_foreign_arrays_are_converted_when_the_backend_is_named(backend, kind, rng):
    f = tc.compile(MATMUL, backend=backend)
    # float32 throughout: JAX makes float32 arrays by default, and torch's matmul takes one dtype
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    for first, second in [
        (a, torch.as_tensor(b)),
        (jnp.asarray(a), b),
        (torch.as_tensor(a), jnp.asarray(b)),
    ]:
        result = f(first, second)
        assert isinstance(result, kind)
        np.testing.assert_allclose(np.asarray(result), a @ b, rtol=1e-5)


def test_unknown_backend():
    with pytest.raises(tc.TensorcError, match="unknown backend 'tensorflow'"):
        tc.compile(MATMUL, backend="tensorflow")


# --- function_for ---------------------------------------------------------------------------


def test_function_for_is_the_generated_function_a_call_runs(count_generated, rng):
    f = tc.compile(MATMUL, backend="numpy", passes=())
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    function = f.function_for(a, b)
    assert function.__name__ == "program"
    assert "def program(A, B):\n    # C[i, k] = A[i, j] * B[j, k]\n    C = A @ B" in (
        inspect.getsource(function)
    )
    made = len(count_generated)  # 0 or 1: another test may have planned these shapes
    np.testing.assert_allclose(function(a, b), f(a, b))
    assert f.function_for(B=b, A=a) is function
    assert len(count_generated) == made  # the call used the same plan


def test_function_for_with_size_keywords_takes_tensors_only(rng):
    f = tc.compile(SPLIT, backend="numpy")
    y = rng.standard_normal((2, 5, 12))
    function = f.function_for(y, h=3)
    np.testing.assert_allclose(function(y), f(y, h=3))
    assert f.function_for(y, h=3) is function
    assert f.function_for(y, h=2) is not function


def test_function_for_converts_foreign_arrays(rng):
    f = tc.compile(MATMUL, backend="torch")
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    result = f.function_for(a, b)(a, b)
    assert isinstance(result, torch.Tensor)
    np.testing.assert_allclose(result.numpy(), a @ b)


def test_source_for_and_ir_for_are_specialised(rng):
    f = tc.compile("D[i, l] = A[i, j] * B[j, k] * C[k, l]", backend="numpy")
    args = (rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 5)))
    assert "n_i" not in f.source_for(*args)  # sizes are constants there
    assert "naive FLOPs" in f.ir_for(*args)
    assert f.sizes_for(*args) == {"i": 2, "j": 3, "k": 4, "l": 5}


# --- threads --------------------------------------------------------------------------------


def test_threads_compile_and_call_distinct_and_shared_programs():
    """8 threads at once: each compiles its own program and calls a shared one, with shapes
    that some threads share and some do not; every answer is right."""
    shared = tc.compile("C[i, k] = A[i, j] * B[j, k] * s[k]", backend="numpy")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        rng = np.random.default_rng(worker)
        try:
            barrier.wait()
            own_source = f"y[i] = x[i] * {worker} + sum[j](M[i, j])"
            for step in range(20):
                own = tc.compile(own_source, backend="torch" if worker % 2 else "numpy")
                x, m = rng.standard_normal(3 + step % 4), rng.standard_normal((3 + step % 4, 2))
                if worker % 2:
                    got = own(torch.as_tensor(x), torch.as_tensor(m)).numpy()
                else:
                    got = own(x, m)
                np.testing.assert_allclose(got, x * worker + m.sum(axis=1))
                n = 2 + (worker + step) % 3
                a, b, s = rng.standard_normal((n, 3)), rng.standard_normal((3, 2)), rng.random(2)
                np.testing.assert_allclose(shared(a, b, s), (a @ b) * s)
        except BaseException as error:  # reported below, with the thread's own stack
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tc.compile("C[i, k] = A[i, j] * B[j, k] * s[k]", backend="numpy") is shared


class _MeetingPlans(plans.Plans):
    """A plan table where a thread that looks for the oldest plan waits, with what it found,
    until a second thread has looked too: two threads evicting at the same moment."""

    meeting = threading.Barrier(2, timeout=2)

    def __iter__(self):
        oldest = list(super().__iter__())[:1]
        # A broken barrier: only one thread got here (evictions are serialised), as it should.
        with contextlib.suppress(threading.BrokenBarrierError):
            self.meeting.wait()
        return iter(oldest)


def test_concurrent_plan_evictions(monkeypatch):
    monkeypatch.setattr(plans, "PLANS_PER_PROGRAM", 1)
    f = tc.compile("y[i] = x[i] * 3", backend="numpy", passes=())
    f(np.ones(1))
    meeting = _MeetingPlans()
    meeting.update(f._plans)
    meeting.generated.update(f._plans.generated)
    f._plans = meeting
    errors: list[BaseException] = []

    def call(n: int) -> None:
        try:
            np.testing.assert_allclose(f(np.ones(n)), 3.0)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=call, args=(n,)) for n in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_keyword_calls_reuse_their_plan_and_bind_by_name():
    # A source no other test compiles, so that the cached program starts with no plans.
    f = tc.compile("Out[b, h, n, d] = Keyed[b, n, (h d)]", backend="numpy")
    y = np.arange(24.0).reshape(1, 2, 12)
    first = f(Keyed=y, h=3)
    assert len(f._plans.keywords) == 1
    again = f(Keyed=y, h=3)  # the keyword fast path
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(f(Keyed=y, h=4), y.reshape(1, 2, 4, 3).transpose(0, 2, 1, 3))
    np.testing.assert_array_equal(f(y, h=3), first)
    assert len(f._plans.keywords) == 3
