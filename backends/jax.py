"""JAX code: one function under `jax.jit`, so that XLA fuses the elementwise chains."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from tensorc.backends import Backend, GradientRequest, owned_by_modules
from tensorc.backends.jax_kernels import JaxKernels
from tensorc.backends.jax_places import PLACES_HELPERS, JaxPlaces
from tensorc.codegen import ATOM, Code
from tensorc.codegen.sizes import StaticSizes
from tensorc.errors import TensorcError
from tensorc.ir import nodes as ir
from tensorc.ir.labels import ELLIPSIS
from tensorc.ir.labels import parts as label_parts
from tensorc.ir.shapes import Sizes
from tensorc.ir.sources import Given
from tensorc.sharding import Entry, Layout, MeshAxes, MeshSupport

# How JAX writes each operation that is not a Python operator (see `Generator.spell`).
SPELLINGS = {
    "not": "jnp.logical_not",
    "and": "jnp.logical_and",
    "or": "jnp.logical_or",
    "exp": "jnp.exp",
    "log": "jnp.log",
    "sqrt": "jnp.sqrt",
    "abs": "jnp.abs",
    "tanh": "jnp.tanh",
    "sin": "jnp.sin",
    "cos": "jnp.cos",
    "erf": "jax.scipy.special.erf",
    "floor": "jnp.floor",
    "ceil": "jnp.ceil",
    "round": "jnp.round",
    "sign": "jnp.sign",
    "log1p": "jnp.log1p",
    "expm1": "jnp.expm1",
    "softplus": "jax.nn.softplus",
    "silu": "jax.nn.silu",
    "gelu": "_gelu",  # in erf: jax.nn.gelu's erfc is ~3x slower on XLA's CPU
    "sigmoid": "jax.nn.sigmoid",
    "relu": "jax.nn.relu",
    "maximum": "jnp.maximum",
    "minimum": "jnp.minimum",
    "where": "jnp.where",
    "clip": "jnp.clip",
    "sum": "jnp.sum",
    "prod": "jnp.prod",
    "max": "jnp.max",
    "min": "jnp.min",
    "mean": "jnp.mean",
    "logsumexp": "jax.nn.logsumexp",
    "var": "jnp.var",
    "std": "jnp.std",
    "any": "jnp.any",
    "all": "jnp.all",
    "argmax": "jnp.argmax",
    "argmin": "jnp.argmin",
    "softmax": "jax.nn.softmax",
    "cumsum": "jnp.cumsum",
    "log_softmax": "jax.nn.log_softmax",
    "cumprod": "jnp.cumprod",
}


_HELPERS = dict(PLACES_HELPERS)
_HELPERS.update(
    {
        "_gelu": '''
def _gelu(x):
    """x * P(N(0, 1) <= x), the exact gelu, in the error function."""
    return 0.5 * x * (1 + jax.scipy.special.erf(x / 1.4142135623730951))
''',
        "_common_dtype": '''
def _common_dtype(*arrays):
    """The arrays in one dtype, JAX's promotion of theirs: its convolutions take no mix."""
    dtype = jnp.result_type(*arrays)
    return tuple(array.astype(dtype) for array in arrays)
''',
    }
)


_PRODUCTS = ("sum_of_products", "transposed_times")  # idioms that are products


class JaxGenerator(JaxPlaces):
    """Generates a jitted JAX module; sizes passed by keyword are static arguments."""

    module = "jnp"
    imports = ("import jax", "import jax.numpy as jnp")
    helpers = _HELPERS
    spellings = SPELLINGS
    norms: frozenset[str] = frozenset()  # XLA fuses the written-out forms; its layer norm
    # kernel lost accuracy in bfloat16 (tests/frameworks/test_jax.py)
    frees_dead_arrays = False  # XLA assigns the buffers
    kernel_forms = JaxKernels
    idioms = {  # noqa: RUF012 - `tensorc.codegen.idioms`
        "zeros_like": "_zeros_like({x})",
        "ones_like": "_ones_like({x})",
        "count": "_count({c}, {x}, {axes})",
        "sum_of_products": "_sum_of_products({x}, {y}, {axes})",
        "transposed_times": "_transposed_times({a}, {b})",
    }

    def __init__(self, program: ir.Program, sizes: Sizes | Given, layout: Layout | None = None):
        super().__init__(program, sizes, layout)
        if layout is not None:  # under a mesh, products keep the forms that say their layout
            self.idioms = {k: v for k, v in self.idioms.items() if k not in _PRODUCTS}

    def normalise(self, node: ir.Normalise, operand: Code, gain: Code, bias: Code) -> Code:
        """`jax.nn.standardize`, then the gain and bias: XLA's own layer norm is ~3x faster
        on CPU than the written-out formula (docs/graph-compilers.md)."""
        axes = tuple(range(-node.over, 0))
        code = Code(f"jax.nn.standardize({operand.text}, axis={axes}, epsilon={node.eps!r})")
        if not isinstance(node.gain, ir.Const):
            code = self.map("mul", [code, gain], [False, False])
        if not isinstance(node.bias, ir.Const):
            code = self.map("add", [code, bias], [False, False])
        return code

    def as_float(self, operand: Code, scalar: bool) -> Code:
        """Integers in JAX's default float, as jnp.exp makes them (jax.nn.sigmoid refuses)."""
        return Code(f"float({operand.text})" if scalar else f"{operand.at(ATOM)}.astype(float)")

    def one_dtype(self) -> list[str]:
        """Tensors that meet in a convolution get one dtype: JAX's kernel takes no mix."""
        names = [self.params[name] for name in self.facts.kernel_inputs]
        if len(names) < 2:
            return []
        same = " == ".join(f"{name}.dtype" for name in names)
        test = f"{names[0]}.dtype != {names[1]}.dtype" if len(names) == 2 else f"not {same}"
        together = ", ".join(names)
        return [f"if {test}:", f"    {together} = {self.use_helper('_common_dtype')}({together})"]

    @property
    def decorator(self) -> str:
        if self.sizes.keywords():
            return "@functools.partial(jax.jit, static_argnames={static})"
        return "@jax.jit"

    # --- sharding: the mesh is the one in context (`jax.set_mesh`) -------------------------

    def entry_lines(self) -> list[str]:
        """A sharded function says where its mesh comes from, and where each index goes;
        tensors that meet in a convolution get one dtype."""
        if self.layout is None:
            return self.one_dtype()
        where = ", ".join(f"{index} over {_entry(axes)}" for index, axes in self.layout.indices)
        return [
            "# sharded over the mesh in context (call under `with jax.set_mesh(mesh):`):",
            f"# {where or 'every axis replicated'}",
            *self.one_dtype(),
        ]

    def lay_out(self, name: str, labels: tuple[str, ...]) -> list[str]:
        """`name` resharded to the layout its labels give (explicit mesh axes), or constrained
        to it for the partitioner to propagate (auto mesh axes)."""
        if self.layout is None or not labels:
            return []
        call = "jax.reshard" if self.layout.explicit else "jax.lax.with_sharding_constraint"
        return [f"{name} = {call}({name}, {self.partition(labels, name)})"]

    def partition(self, labels: tuple[str, ...], name: str | None = None) -> str:
        """The `jax.P(...)` of a value with these labels. The ellipsis's axes are replicated:
        as many `None`s as it has axes where a split axis follows it (counted from the
        array `name`, or from the program's batch shape)."""
        assert self.layout is not None
        entries = self.layout.spec(labels)
        texts = [_entry(entry) for entry in entries]
        if ELLIPSIS in labels:
            k = labels.index(ELLIPSIS)
            if not any(entries[k + 1 :]):
                texts = texts[:k]
            elif name is not None:
                texts[k] = f"*(None,) * ({name}.ndim - {len(labels) - 1})"
            elif isinstance(self.sizes, StaticSizes):
                texts[k : k + 1] = ["None"] * len(self.sizes.sizes.ellipsis)
            else:
                texts[k] = f"*(None,) * len({self.sizes.batch()})"
        return f"jax.P({', '.join(texts)})"

    def reshape(self, operand: Code, shape: str, node: ir.Reshape | None = None) -> Code:
        """With explicit mesh axes JAX infers the layout of a reshape that merges or splits
        one group of axes split by its leading index only: other reshapes of a split value
        say the layout of their result."""
        layout = self.layout
        if node is None or layout is None or not layout.explicit or _inferred(layout, node):
            return super().reshape(operand, shape, node)
        spec = self.partition(node.labels)
        return Code(f"jnp.reshape({operand.text}, {shape}, out_sharding={spec})")

    def dot(self, node: ir.MatMul, left: Code, right: Code) -> Code | None:
        """einsum, except over a split index: the matmul then says how to combine the sums."""
        layout = self.layout
        if layout is not None and layout.explicit and layout.axes(node.left.indices[-1]):
            return None
        return super().dot(node, left, right)

    def product(self, node: ir.MatMul, left: Code, right: Code) -> Code:
        return self.matrix_product(left, right, _product_labels(node), node.left.indices[-1])

    def matrix_product(self, left: Code, right: Code, labels: tuple[str, ...], summed: str) -> Code:
        """A product over a split index is partial sums on each device: with explicit mesh
        axes JAX needs the layout of the result (`out_sharding`) to know how to combine them."""
        layout = self.layout
        if layout is None or not layout.explicit or not layout.axes(summed):
            return super().matrix_product(left, right, labels, summed)
        spec = self.partition(labels)
        return Code(f"jnp.matmul({left.text}, {right.text}, out_sharding={spec})")


def _entry(entry: Entry | tuple[str, ...]) -> str:
    """One entry of a PartitionSpec as Python text: `None`, `"data"`, `("data", "model")`."""
    if entry is None:
        return "None"
    if isinstance(entry, str) or len(entry) == 1:
        return f'"{entry if isinstance(entry, str) else entry[0]}"'
    return "(" + ", ".join(f'"{axis}"' for axis in entry) + ")"


def _inferred(layout: Layout, node: ir.Reshape) -> bool:
    """Whether JAX infers the layout of this reshape from its operand's: nothing is split,
    or it merges or splits one group of axes in which only the leading index is split."""
    before, after = node.operand.indices, node.labels
    changed = [label for label in after if label not in before]
    changed += [label for label in before if label not in after]
    groups = [label for label in changed if len(label_parts(label)) > 1]
    if not any(layout.spec(before)) and not any(layout.spec(after)):
        return True
    if len(groups) != 1:
        return False
    return not any(layout.axes(part) for part in label_parts(groups[0])[1:])


def _product_labels(node: ir.MatMul) -> tuple[str, ...]:
    """The labels of `left @ right` as `Generator.matmul` shapes it: a vector with batch axes
    gets a length-1 axis (labelled ""), one without keeps none."""
    rows = 0 if node.left_vector else 1
    cols = 0 if node.right_vector else 1
    batch = node.labels[: len(node.labels) - rows - cols]
    middle = node.labels[len(batch) : len(batch) + rows]
    if node.left_vector and len(node.left.indices) > 1:
        middle = ("",)
    end = node.labels[len(node.labels) - cols :] if cols else ()
    if node.right_vector and len(node.right.indices) > 1:
        end = ("",)
    return (*batch, *middle, *end)


# --- tc.einsum: operands and results as jnp.einsum has them ----------------------------------


def einsum_operand(value: object, like: object = None) -> object:
    """A list or a number as jnp.einsum takes it: an array (a number stays weakly typed)."""
    import jax.numpy as jnp

    return jnp.asarray(value)


def einsum_result(value: object, operands: list[object]) -> object:
    """jnp.einsum's result: an array of the operands' common dtype (int8 stays int8, bool
    stays bool), where the sums underneath promote as jnp.sum does."""
    import jax.numpy as jnp

    result = jnp.asarray(value)
    dtype = jnp.result_type(*operands)
    return result if result.dtype == dtype else result.astype(dtype)


# --- the runtime record ---------------------------------------------------------------------


def _from_numpy(array: Any) -> Any:
    import jax.numpy as jnp

    return jnp.asarray(array)


def _placeholder(shape: tuple[int, ...]) -> Any:
    """A shape and dtype without data: what `jax.eval_shape` traces with."""
    import jax

    return jax.ShapeDtypeStruct(shape, np.float32)


def _sum(value: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    return value.sum(axis=axes, keepdims=keepdims)


def _precision(dtype: str) -> AbstractContextManager[Any]:
    """JAX computes in float32 unless 64-bit types are on: turn them on for float64."""
    if dtype != "float64":
        return nullcontext()
    import jax

    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # older jax has it in jax.experimental
        enable = getattr(importlib.import_module("jax.experimental"), "enable_x64", None)
    return nullcontext() if enable is None else enable(True)


def _gradients(request: GradientRequest) -> list[np.ndarray]:
    """`jax.grad` of the weighted sum of the outputs."""
    import jax
    import jax.numpy as jnp

    def loss(*diff: Any) -> Any:
        current = list(request.arguments)
        for k, value in zip(request.wrt, diff, strict=True):
            current[k] = value
        found = request.call(*current)
        total = jnp.zeros((), request.dtype)
        for k, weight in request.cotangents.items():
            total = total + jnp.sum(found[k] * weight)
        return total

    wrt = tuple(range(len(request.wrt)))
    grads = jax.grad(loss, argnums=wrt)(*(request.arguments[k] for k in request.wrt))
    return [np.asarray(g, dtype=np.float64) for g in grads]


def _mesh_axes(mesh: Any) -> MeshAxes:
    """A `jax.sharding.Mesh` described for tensorc: axis names, sizes, which are explicit."""
    import jax

    if not isinstance(mesh, jax.sharding.Mesh):
        raise TensorcError(
            f"mesh= takes a jax.sharding.Mesh (from jax.make_mesh), not {type(mesh).__name__}"
        )
    explicit = getattr(jax.sharding.AxisType, "Explicit", None)
    types = getattr(mesh, "axis_types", None) or (None,) * len(mesh.axis_names)
    sizes = tuple(int(mesh.shape[name]) for name in mesh.axis_names)
    return MeshAxes(tuple(mesh.axis_names), sizes, tuple(t == explicit for t in types))


def _on_mesh(function: Callable[..., Any], mesh: Any) -> Callable[..., Any]:
    """`function` called with `mesh` in context, which its `jax.P(...)`s refer to. Under a
    trace (`jax.jit`, `jax.grad`, ...), where `jax.set_mesh` is refused, the abstract mesh
    is set instead: the outer computation places the arrays."""
    import jax

    def on_mesh(*args: Any) -> Any:
        try:
            context: Any = jax.set_mesh(mesh)
        except ValueError:
            context = jax.sharding.use_abstract_mesh(mesh.abstract_mesh)
        with context:
            return function(*args)

    return on_mesh


BACKEND = Backend(
    name="jax",
    module="jax",
    generator=JaxGenerator,
    owns=owned_by_modules("jax", "jaxlib"),
    from_numpy=_from_numpy,
    to_numpy=np.asarray,
    placeholder=_placeholder,
    sum=_sum,
    einsum_operand=einsum_operand,
    einsum_result=einsum_result,
    precision=_precision,
    gradients=_gradients,
    mesh=MeshSupport(describe=_mesh_axes, on_mesh=_on_mesh),
    jit=lambda function: function,  # generated functions are under jax.jit already
)
