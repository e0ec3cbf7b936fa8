"""No input makes tensorc raise anything but `tc.TensorcError`, and no program text runs Python.

CONTRACT.md §4: no `KeyError`, `AttributeError`, lark exception, `SyntaxError` from generated code
or `RecursionError` for any program text or call, and a program text is never evaluated as Python.
Programs come from random token soup, from mutations of valid programs and from a small generator
of well-formed programs; those that compile are called with small random arrays.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorc as tc

# Mutated programs are full of typos: that they warn of them (TensorcWarning) is expected.
pytestmark = pytest.mark.filterwarnings("ignore::tensorc.TensorcWarning")

FUZZ = settings(
    max_examples=120,
    deadline=None,
    report_multiple_bugs=False,  # one shrunk example per failing property keeps the time bounded
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ----------------------------------------------------------------------------- material


def words(text: str) -> list[str]:
    return text.split()


VALID = [
    "C[i, k] = A[i, j] * B[j, k]",
    "y[i] = A[i, j] * x[j]",
    "s = x[i] * y[i]",
    "D[b, i, j] = x[b, i] * y[b, j]",
    "T[j, i] = A[i, j]",
    "d[i] = A[i, i]",
    "C[..., i, k] = A[..., i, j] * B[..., j, k]",
    "P[i, j] = A[i, j] / sum[k](A[i, k])",
    "m[j] = mean[i](A[i, j])",
    "n = sqrt(sum[i, j](A[i, j] ** 2))",
    "Z[i, j] = softmax[j](S[i, j])",
    "R[i, j] = relu(X[i, j] + b[j])",
    "Y[i] = alpha * X[i]",
    "M[i, j] = where(j <= i, S[i, j], -inf)",
    "Y[b, n, (h d)] = X[b, h, n, d]",
    "X[b, h, n, d] = Y[b, n, (h d)]",
    "T[i, j] = exp(A[i, j]) # comment\nC[i, k] = T[i, j] * B[j, k]; return C, T",
    "L[i] = logsumexp[j](S[i, j])\nc[i, j] = cumsum[j](S[i, j])\nq = max[i](L[i]) - min[i](L[i])",
    "G[i, j] = max(A[i, j], 0) * sigmoid(A[i, j]) + tanh(A[i, j]) - abs(A[i, j]) / pi",
]

TOKENS = [
    # names: tensors, indices, functions, Python words and backend aliases
    *words("A B C S T X Y x y b i j k h d n"),
    *words("alpha sum prod max min mean softmax logsumexp cumsum exp log sqrt abs"),
    *words("tanh sigmoid relu where inf pi foo return"),
    *words("__import__ os os.system exec eval np torch jnp F out program lambda def class"),
    *words("import None True self __class__ __builtins__ sys"),
    # punctuation and operators
    *words("[ ] ( ) , = + - * / ** < <= > >= == != . : @ $ ` { } ! ~ & | ^ %"),
    "sum[", "softmax[", "...", "(h d)", "(h)", "()", "[]", ";", "\n", "\r\n", "\r", "#", " ", "\t",
    "\\", "\\\n", "'", '"', '"""', "'os'", "0", "1", "2", "2.5", "1e3", "1e999", ".5", "1.",
    "0x1F", "1_000", "-1", "00",
    # unicode
    "é", "λ", "ｘ", "∑", "😀", "\u2028", "\ufeff", "\x00", "\x0c", "\x85",
]  # fmt: skip

TOKEN_RE = re.compile(r"\s+|\.\.\.|\*\*|<=|>=|==|!=|[A-Za-z_]\w*|\d+(?:\.\d*)?|.", re.S)
ACCESS_RE = re.compile(r"([A-Za-z_]\w*)\s*\[([^\[\]]*)\]")


# ----------------------------------------------------------------------------- harness


@contextlib.contextmanager
def no_side_effects() -> Iterator[None]:
    """Fail loudly if anything tries to start a process while tensorc runs."""
    calls: list[str] = []

    def trap(name: str) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"tensorc called {name}")

        return called

    saved = os.system, os.popen, subprocess.Popen
    os.system, os.popen, subprocess.Popen = trap("os.system"), trap("os.popen"), trap("Popen")
    try:
        yield
    finally:
        os.system, os.popen, subprocess.Popen = saved
        pwned = hasattr(builtins, "TENSORC_PWNED")
        if pwned:
            del builtins.TENSORC_PWNED  # keep the other tests clean
    assert not calls, calls
    assert not pwned, "the program text was executed as Python"


def plausible_args(f: Any, src: str, draw: Callable[..., Any]) -> tuple[list, dict]:
    """Arrays for `f`'s inputs, with ranks taken from how the source indexes them."""
    sizes: dict[str, int] = {}

    def size(index: str) -> int:
        if index not in sizes:
            sizes[index] = draw(st.sampled_from([1, 2, 2, 3]))
        return sizes[index]

    batch = tuple(draw(st.lists(st.sampled_from([1, 2]), max_size=2)))
    accesses = {}
    for match in ACCESS_RE.finditer(src):
        accesses.setdefault(match.group(1), match.group(2))
    args: list[Any] = []
    for name in f.inputs:
        if name not in accesses:
            args.append(draw(st.sampled_from([0.5, 2.0, -1.0])))
            continue
        shape: list[int] = []
        for item in filter(None, (part.strip() for part in accesses[name].split(","))):
            if item == "...":
                shape.extend(batch)
            elif item.startswith("("):
                shape.append(int(np.prod([size(n) for n in re.findall(r"\w+", item)])))
            else:
                shape.append(size(item))
        args.append(np.random.default_rng(len(args)).standard_normal(shape))
    kwargs = {}
    if draw(st.booleans()):
        for group in re.findall(r"\(([^()]*)\)", src):
            for name in re.findall(r"[A-Za-z_]\w*", group)[:1]:
                kwargs[name] = size(name)
    return args, kwargs


def exercise(src: str, draw: Callable[..., Any]) -> None:
    """Compile `src` and call it; only `tc.TensorcError` may come out."""
    backend = draw(st.sampled_from([None, "numpy", "torch", "jax"]))
    with no_side_effects():
        try:
            f = tc.compile(src, backend=backend)
        except tc.TensorcError:
            return
        assert isinstance(f.source, str)
        assert isinstance(f.ir, str)
        if backend == "jax":
            return  # compiled and generated; calls are exercised with numpy and torch
        args, kwargs = plausible_args(f, src, draw)
        if backend == "torch":
            args = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            with contextlib.suppress(tc.TensorcError):
                f(*args, **kwargs)


# ----------------------------------------------------------------------------- strategies

token_soup = st.lists(
    st.tuples(st.sampled_from(TOKENS), st.sampled_from(["", " "])), max_size=30
).map(lambda parts: "".join(token + space for token, space in parts))


@st.composite
def mutated(draw: Callable[..., Any]) -> str:
    tokens = TOKEN_RE.findall(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "replace"]))
        if not tokens:
            tokens = [draw(st.sampled_from(TOKENS))]
            continue
        at = draw(st.integers(0, len(tokens) - 1))
        if op == "delete":
            del tokens[at]
        elif op == "insert":
            tokens.insert(at, draw(st.sampled_from(TOKENS)))
        elif op == "duplicate":
            tokens.insert(at, tokens[at])
        elif op == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        else:
            tokens[at] = draw(st.sampled_from(TOKENS))
    return "".join(tokens)


TENSOR_RANKS = {"A": 2, "B": 2, "x": 1, "S": 3, "alpha": 0}
INDICES = ["i", "j", "k"]


@st.composite
def access(draw: Callable[..., Any]) -> str:
    name = draw(st.sampled_from(list(TENSOR_RANKS)))
    rank = TENSOR_RANKS[name]
    if rank == 0:
        return name
    items = draw(
        st.lists(
            st.sampled_from([*INDICES, *INDICES, "(i j)", "..."]), min_size=rank, max_size=rank
        )
    )
    return f"{name}[{', '.join(items)}]"


leaves = st.one_of(
    access(),
    st.sampled_from(["0", "1", "2.5", "1e-3", "inf", "pi", "i", "j"]),
)


def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    indices = st.lists(st.sampled_from(INDICES), min_size=1, max_size=2, unique=True)
    return st.one_of(
        st.tuples(inner, st.sampled_from(words("+ - * / ** < <= > >= == !=")), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(inner, st.sampled_from(["*", "/", "+"]), inner).map(" ".join),
        inner.map(lambda e: f"-{e}"),
        st.tuples(st.sampled_from(words("exp log sqrt abs tanh sigmoid relu")), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(inner, inner, inner).map(lambda t: f"where({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(
            st.sampled_from(words("sum prod max min mean softmax logsumexp cumsum")),
            indices,
            inner,
        ).map(lambda t: f"{t[0]}[{', '.join(t[1])}]({t[2]})"),
    )


expressions = st.recursive(leaves, extend, max_leaves=6)


@st.composite
def generated(draw: Callable[..., Any]) -> str:
    lines: list[str] = []
    prev: list[str] = []
    for n in range(draw(st.integers(1, 3))):
        lhs = draw(st.lists(st.sampled_from(INDICES), max_size=3, unique=True))
        target = f"T{n}[{', '.join(lhs)}]" if lhs else f"T{n}"
        rhs = draw(expressions)
        if n and draw(st.booleans()):
            rhs = f"{rhs} + T{n - 1}" + (f"[{', '.join(prev)}]" if prev else "")
        lines.append(f"{target} = {rhs}")
        prev = lhs
    if len(lines) > 1 and draw(st.booleans()):
        lines.append("return " + ", ".join(f"T{n}" for n in range(len(lines))))
    return draw(st.sampled_from(["\n", "; ", "\r\n"])).join(lines)


# ----------------------------------------------------------------------------- properties


@FUZZ
@given(src=token_soup, data=st.data())
def test_token_soup_raises_only_tensorc_errors(src, data):
    exercise(src, data.draw)


@FUZZ
@given(src=mutated(), data=st.data())
def test_mutated_programs_raise_only_tensorc_errors(src, data):
    exercise(src, data.draw)


@FUZZ
@given(src=generated(), data=st.data())
def test_generated_programs_raise_only_tensorc_errors(src, data):
    exercise(src, data.draw)


@settings(max_examples=100, deadline=None)
@given(src=st.text(max_size=40))
def test_arbitrary_text_raises_only_tensorc_errors(src):
    with no_side_effects(), contextlib.suppress(tc.TensorcError):
        tc.compile(src)


@settings(max_examples=60, deadline=None)
@given(spec=st.text(alphabet="ijk.,->$ IJ\n", max_size=12), data=st.data())
def test_einsum_specs_raise_only_tensorc_errors(spec, data):
    count = data.draw(st.integers(0, 3))
    shapes = data.draw(
        st.lists(st.lists(st.integers(1, 3), max_size=3), min_size=count, max_size=count)
    )
    with contextlib.suppress(tc.TensorcError):
        tc.einsum(spec, *[np.ones(s) for s in shapes])


# Programs that once let a raw Python or backend exception through (found by the properties).
EDGE_CASES = [
    ("y[i] = x[i] / 0", [(3,)]),
    ("s = 1 / 0", []),
    ("y[i] = x[i] // 2", [(3,)]),
    ("y[i] = x[i] ** -1 / 0.0", [(3,)]),
    ("T0 = max(alpha, alpha)", [()]),
    ("T0 = min(1, 2)", []),
    ("T0 = where(1, 2, 3)", []),
    ("y[i] = -(x[i] != 0)", [(3,)]),
    ("y[i] = (x[i] > 0) - (x[i] < 0)", [(3,)]),
    ("y[i] = -(x[i] > 0) * x[i]", [(3,)]),
    ("s = i * A[i, i]", [(3, 3)]),
    ("s = 0 / A[i, j]", [(2, 3)]),
    ("s = 1 / x[i]", [(3,)]),
    ("y[i] = where(x[i], x[i], 0)", [(3,)]),
    ("y[i] = where(alpha, x[i], 0)", [(), (3,)]),
    ("y[i] = where(i, x[i], 0)", [(3,)]),
    ("y[i] = i", []),
    ("y[i] = exp(i) * x[i]", [(3,)]),
    ("y[i] = sum[j](i)", [(3,)]),
    ("y[i] = x[i] ** x[i] ** (x[i] > 0)", [(3,)]),
]


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize(("src", "shapes"), EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_edge_programs_raise_only_tensorc_errors(src, shapes, backend):
    args = [2.0 if s == () else np.linspace(-1.0, 1.0, int(np.prod(s))).reshape(s) for s in shapes]
    if backend == "torch":
        args = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    elif backend == "jax":
        args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    with no_side_effects(), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with contextlib.suppress(tc.TensorcError):
            tc.compile(src, backend=backend)(*args)


# ----------------------------------------------------------------------------- deep programs


def compiles_right_or_refuses(src: str, expected: Callable[[np.ndarray], np.ndarray]) -> None:
    x = np.linspace(-1.0, 1.0, 5)
    try:
        f = tc.compile(src, backend="numpy")
    except tc.TensorcError:
        return
    np.testing.assert_allclose(f(x), expected(x), rtol=1e-9)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        pytest.param("y[i] = " + "(" * 1000 + "x[i]" + ")" * 1000, lambda x: x, id="parens"),
        pytest.param("y[i] = " + "- " * 1000 + "x[i]", lambda x: x, id="unary-minus"),
        pytest.param("y[i] = " + " + ".join(["x[i]"] * 1000), lambda x: 1000 * x, id="long-sum"),
        pytest.param("y[i] = " + "abs(" * 500 + "x[i]" + ")" * 500, np.abs, id="nested-calls"),
        pytest.param("y[i] = x[i]" + " ** 1" * 500, lambda x: x, id="power-chain"),
        pytest.param(
            "\n".join(["t0[i] = x[i]"] + [f"t{n}[i] = t{n - 1}[i] + 1" for n in range(1, 400)]),
            lambda x: x + 399,
            id="many-statements",
        ),
    ],
)
def test_deep_programs_work_or_raise_tensorc_errors(src, expected):
    with no_side_effects():
        compiles_right_or_refuses(src, expected)


# ----------------------------------------------------------------------------- no Python


PYTHON_WORDS = [
    *words("__import__ os sys exec eval compile open getattr globals locals print"),
    *words("np numpy jax jnp torch F nn math opt_einsum einsum"),
    *words("out result program args kwargs sizes shape self _ __ __name__ __builtins__"),
    *words("lambda def class import from if else for while pass None True False return"),
    *words("sum exp where softmax"),
]

# Calls the generated module may never make, whatever the tensors are called.
FORBIDDEN_CALLS = {
    "__import__", "eval", "exec", "compile", "open", "getattr", "setattr", "globals", "locals",
    "vars", "breakpoint", "input", "print", "system", "popen", "Popen", "run", "import_module",
}  # fmt: skip


def check_source_is_safe(source: str, backend: str) -> None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise AssertionError(f"the generated module is not valid Python: {exc}") from exc
    allowed = {*sys.stdlib_module_names, backend}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in allowed for a in node.names), ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] in allowed, ast.unparse(node)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            assert called not in FORBIDDEN_CALLS, ast.unparse(node)


def templates(name: str) -> list[tuple[str, list[str], Callable[..., np.ndarray]]]:
    """(program, its inputs in order, reference) with `name` used as a tensor or an index."""
    return [
        (f"C[i, k] = {name}[i, j] * B[j, k]", [name, "B"], lambda a, b: a @ b),
        (f"{name}[i, k] = A[i, j] * B[j, k]", ["A", "B"], lambda a, b: a @ b),
        (f"C[{name}, k] = A[{name}, j] * B[j, k]", ["A", "B"], lambda a, b: a @ b),
        (
            f"{name}[i, j] = A[i, j] + 1\nC[i, k] = {name}[i, j] * B[j, k]",
            ["A", "B"],
            lambda a, b: (a + 1) @ b,
        ),
    ]


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("name", PYTHON_WORDS)
def test_python_words_as_names(name, backend):
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4) - 5
    for src, inputs, reference in templates(name):
        with no_side_effects():
            try:
                f = tc.compile(src, backend=backend)
            except tc.TensorcError:
                continue
            assert list(f.inputs) == inputs, src
            check_source_is_safe(f.source, backend)
            if backend == "torch":
                out = f(torch.from_numpy(a), torch.from_numpy(b)).numpy()
            elif backend == "jax":
                out = np.asarray(f(jnp.asarray(a), jnp.asarray(b)))
            else:
                out = f(a, b)
                # The standalone module agrees too.
                namespace: dict[str, Any] = {"__name__": "generated"}
                exec(compile(f.source, "<generated>", "exec"), namespace)
                np.testing.assert_allclose(namespace["program"](a, b), reference(a, b))
            np.testing.assert_allclose(out, reference(a, b), rtol=1e-5)


@pytest.mark.parametrize("name", [w for w in PYTHON_WORDS if w not in ("return",)])
def test_python_words_as_scalar_inputs(name):
    src = f"Y[i] = {name} * X[i]"
    with no_side_effects():
        try:
            f = tc.compile(src, backend="numpy")
        except tc.TensorcError:
            return
        if list(f.inputs) != [name, "X"]:
            return  # the word is a language constant, not an input
        np.testing.assert_allclose(f(3.0, np.arange(4.0)), 3.0 * np.arange(4.0))


PAYLOADS = [
    'C[i] = A[i]  # """; import builtins; builtins.TENSORC_PWNED = 1; """',
    "C[i] = A[i]  # '''; import builtins; builtins.TENSORC_PWNED = 1; '''",
    "C[i] = A[i]  # \rimport builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \u2028import builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \x85import builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \x0bimport builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \x1cimport builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \x0cimport builtins; builtins.TENSORC_PWNED = 1",
    "C[i] = A[i]  # \x00 null",
    "C[i] = A[i]  # ends with a backslash \\",
    "# \\\nC[i] = A[i]",
    "C[i] = A[i]  # {__import__('builtins').__setattr__('TENSORC_PWNED', 1)}",
    "C[i] = A[i]  # %(x)s {0} \\N{BULLET} \\x41 \\u0041",
    "C[i] = A[i] \\\n  + 0",
    "C[i] = A[i]\n__import__('builtins').__setattr__('TENSORC_PWNED', 1)",
    "C[i] = A[i]; import builtins",
    "C[i] = A[i].__class__",
    "C[i] = A[i]\nexec('import builtins; builtins.TENSORC_PWNED = 1')",
    "C[i] = eval(A[i])",
    'C[i] = A[i] * "1"',
]


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("src", PAYLOADS)
def test_program_text_is_never_python(src, backend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = np.arange(4.0)
    with no_side_effects():
        try:
            f = tc.compile(src, backend=backend)
        except tc.TensorcError:
            return
        check_source_is_safe(f.source, backend)
        if backend == "torch":
            out = f(torch.from_numpy(a)).numpy()
        elif backend == "jax":
            out = np.asarray(f(jnp.asarray(a)))
        else:
            out = f(a)
        np.testing.assert_allclose(out, a)
    assert not list(tmp_path.iterdir())
