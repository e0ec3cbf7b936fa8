"""The dialect: how a backend writes each array operation. `Generator` writes NumPy-style text;
each backend (`backends/<framework>.py`) subclasses it with its spellings table and overrides
the few hooks where its library differs. `generate()` runs the parts in order: facts, then the
emitter's body, then the page around it."""

from __future__ import annotations

from tensorc.codegen import lookups
from tensorc.codegen.code import ATOM, PRODUCT, UNARY, Code, axes_text
from tensorc.codegen.emitter import Emitter
from tensorc.codegen.facts import Facts
from tensorc.codegen.kernels import Kernels
from tensorc.codegen.page import Function, Needs, Page, parameters
from tensorc.codegen.products import Products
from tensorc.codegen.sizes import SizeText, StaticSizes, SymbolicSizes
from tensorc.ir import nodes as ir
from tensorc.ir.shapes import Sizes
from tensorc.ir.sources import Given
from tensorc.ops import OPS
from tensorc.passes.fuse_normalisations import written_out
from tensorc.sharding import Layout


class Generator(lookups.LookupForms, Products):
    """Prints a module defining `program(...)`; subclasses fill in the array operations."""

    module = "np"  # the name the backend library is imported as
    imports: tuple[str, ...] = ("import numpy as np",)
    decorator: str | None = None  # `{static}` stands for the names of the keyword sizes
    helpers: dict[str, str] = {}  # noqa: RUF012 - name -> source of helper functions
    spellings: dict[str, str] = {}  # noqa: RUF012 - IR op name -> its spelling (see `spell`)
    axis_keyword = "axis"  # how the library's reductions name the axis
    norms: frozenset[str] = frozenset()  # the kinds of `ir.Normalise` written as one call
    kernel_forms = Kernels  # how it writes convolutions and pooling (`tensorc.codegen.kernels`)
    idioms: dict[str, str] = {}  # noqa: RUF012 - derivative idioms in one kernel (`idioms`)
    frees_dead_arrays = True  # `del` names after their last read (see `lifetimes`)

    def __init__(self, program: ir.Program, sizes: Sizes | Given, layout: Layout | None = None):
        program = written_out(program, self.norms)  # the formula, for the other kinds
        self.program = program
        self.layout = layout  # how tensors are split over a device mesh (`tensorc.sharding`)
        self.facts = Facts.of(program)
        self.page = Page(self.imports, self.helpers)
        self.params = {spec.name: self.page.names.claim(spec.name) for spec in program.inputs}
        self.sizes: SizeText = (  # for these sizes, or generic: the `Given` ones by keyword
            StaticSizes(sizes)
            if isinstance(sizes, Sizes)
            else SymbolicSizes(program, self.page.names, self.params, self.module, sizes)
        )
        self.first_tensor = next((self.params[name] for name in self.facts.tensor_inputs), None)
        self.needs = Needs()
        self.emitter = Emitter(self)
        self.kernels = self.kernel_forms(self)

    def generate(self) -> str:
        """The module's source."""
        entry = self.entry_lines()
        body = self.emitter.body()
        keywords = self.sizes.keywords()
        static = repr(tuple(name for name, _ in keywords))
        function = Function(
            decorator=self.decorator.format(static=static) if self.decorator else "",
            parameters=parameters(
                [self.params[spec.name] for spec in self.program.inputs], keywords
            ),
            body=entry + self.sizes.prologue() + body,
        )
        return self.page.module(self.program.source, function, self.needs)

    # --- services for the hooks -----------------------------------------------------------

    def use_helper(self, name: str) -> str:
        """Adds a helper function to the module (with the helpers it calls) and returns its name."""
        return self.needs.helper(name)

    def name_of(self, code: Code) -> str:
        """A plain name for a value that an expression must mention twice."""
        return self.emitter.name_of(code)

    def in_one_dtype(self, codes: list[Code]) -> list[Code]:
        """`codes` as new names that hold them promoted to one dtype (the backend's
        `_common_dtype` helper), for kernels that take no mix."""
        names = [self.emitter.names.claim("t") for _ in codes]
        together = ", ".join(code.text for code in codes)
        self.emitter.lines.append(
            f"{', '.join(names)} = {self.use_helper('_common_dtype')}({together})"
        )
        return [Code(name) for name in names]

    def size(self, label: str) -> str:
        """A Python expression for the size of one axis."""
        return self.sizes.axis(label)

    # --- the hooks: what each backend may write otherwise ---------------------------------

    def entry_lines(self) -> list[str]:
        """Lines that prepare the arguments, before anything else runs."""
        return []

    def lay_out(self, name: str, labels: tuple[str, ...]) -> list[str]:
        """Lines laying `name` (an input, a target) out over the device mesh by its labels."""
        return []

    def constant(self, node: ir.Const) -> Code:
        if node.text in ("inf", "-inf", "pi", "nan"):
            self.needs.math = True
            text = "math." + node.text.lstrip("-")
            return Code("-" + text, UNARY) if node.text.startswith("-") else Code(text)
        text = node.text
        return Code(text, UNARY) if text.startswith("-") else Code(text)

    def python_number(self, node: ir.Node) -> bool:
        """Whether a value may be a plain Python number when the generated code runs."""
        return self.facts.python_scalar(node)

    def as_float(self, operand: Code, scalar: bool) -> Code:
        """An operand that holds integers (a Python number if `scalar`), in the default float,
        for a float-only operation. NumPy's functions (and the helpers of its backend) make
        integers floating themselves."""
        return operand

    def like(self, constant: Code, other: str, integral: bool) -> Code:
        """A tensor made from the program's numbers, in the dtype those numbers (integers if
        `integral`) take beside the array named `other`: `other`'s where that holds them."""
        number = "0" if integral else "0.0"
        dtype = f"{self.module}.result_type({other}, {number})"
        return Code(f"{constant.at(ATOM)}.astype({dtype})")

    def as_array(self, text: str) -> str:
        """An expression that turns a value that may be a Python number into an array."""
        return f"{self.module}.asarray({text})"

    def map(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        """An elementwise operation: the backend's spelling where it has one, else an operator
        where Python writes it as the language does, else the backend's function."""
        infix = OPS[op].infix
        if op in self.spellings or infix is None or not infix.python:
            return self.function(op, args, scalars)
        if len(args) == 1:
            return Code(infix.write([args[0].at(infix.right)]), infix.precedence)
        operands = [args[0].at(infix.left), args[1].at(infix.right)]
        return Code(infix.write(operands), infix.precedence)

    def function(self, op: str, args: list[Code], scalars: list[bool]) -> Code:
        """A call of an elementwise function; `scalars` marks arguments with no axes."""
        return self.spell(op, [arg.text for arg in args])

    def inplace_function(self, op: str, operand: Code) -> Code | None:
        """`op` applied to an owned array in place, or None where the backend has no such form."""
        return None

    def spell(self, op: str, args: list[str], axis: str | None = None) -> Code:
        """`op` applied to `args` (along `axis`) as this backend spells it. A spelling is a
        template such as `np.maximum({0}, 0)` or `_softmax({0}, {axis})`, or the name of a
        function to call with the arguments (and the axis by keyword): `np.exp`, `np.sum`.
        A helper that the spelling calls is added to the module."""
        spelling = self.spellings[op]
        callee = spelling.split("(", 1)[0]
        if callee in self.helpers:
            self.use_helper(callee)
        if "(" in spelling:
            return Code(spelling.format(*args, axis=axis))
        if axis is not None:
            args = [*args, f"{self.axis_keyword}={axis}"]
        return Code(f"{spelling}({', '.join(args)})")

    def reduce(self, op: str, operand: Code, axes: tuple[int, ...]) -> Code:
        return self.spell(op, [operand.text], str(axes[0]) if len(axes) == 1 else str(axes))

    def along(self, op: str, operand: Code, axis: int) -> Code:
        return self.spell(op, [operand.text], str(axis))

    def arange(self, size: str) -> Code:
        return Code(f"{self.module}.arange({size})")

    def full(self, shape: str, value: Code) -> Code:
        return Code(f"{self.module}.full({shape}, {value.text})")

    def broadcast_to(self, operand: Code, shape: str) -> Code:
        return Code(f"{self.module}.broadcast_to({operand.text}, {shape})")

    def transpose(self, operand: Code, perm: tuple[int, ...]) -> Code:
        if perm == (1, 0):
            return Code(f"{operand.at(ATOM)}.T")
        return Code(f"{operand.at(ATOM)}.transpose({', '.join(map(str, perm))})")

    def swap_last(self, operand: Code) -> Code:
        """The operand with its last two axes swapped."""
        return Code(f"{operand.at(ATOM)}.swapaxes(-1, -2)")

    def moveaxis(self, operand: Code, source: list[int], destination: list[int]) -> Code:
        moves = f"{axes_text(source)}, {axes_text(destination)}"
        return Code(f"{self.module}.moveaxis({operand.text}, {moves})")

    def reshape(self, operand: Code, shape: str, node: ir.Reshape | None = None) -> Code:
        return Code(f"{operand.at(ATOM)}.reshape({shape})")

    def diagonal(self, operand: Code, first: int, second: int) -> Code:
        return Code(f"{self.module}.diagonal({operand.text}, 0, {first}, {second})")

    def normalise(self, node: ir.Normalise, operand: Code, gain: Code, bias: Code) -> Code:
        """A norm of a kind in `norms` as one library call (other kinds never get here)."""
        raise NotImplementedError(node.kind)

    def attention(self, node: ir.Attention, *args: Code) -> Code:
        """The plain formula, for backends without a fused kernel: softmax(q k^T scale) v."""
        query, key, value, scale = args
        q, k = node.query.indices, node.key.indices  # (..., i, d) and (..., j, d)
        scores = self.matrix_product(query, self.swap_last(key), (*q[:-1], k[-2]), q[-1])
        if node.scale != ir.Const(1.0, "1"):
            scores = self.map("mul", [scores, scale], [False, True])
        if node.causal:
            rows = self.arange(self.size(node.query.indices[-2]))
            columns = self.arange(self.size(node.key.indices[-2]))
            mask = self.map("le", [columns, Code(f"{rows.text}[:, None]")], [False, False])
            minus_inf = self.constant(ir.Const(float("-inf"), "-inf"))
            scores = self.function("where", [mask, scores, minus_inf], [False, False, True])
        weights = self.along("softmax", scores, -1)
        return self.matrix_product(weights, value, node.labels, k[-2])

    def matrix_product(self, left: Code, right: Code, labels: tuple[str, ...], summed: str) -> Code:
        """`left @ right`, a result labelled `labels`, summing over the index `summed`."""
        return Code(f"{left.at(PRODUCT)} @ {right.at(PRODUCT + 1)}", PRODUCT)
