"""AST to IR: binds names, applies the Einstein rule, and puts every value's axes in one order.

Within a statement every node's labels follow the statement's order: the ellipsis first, then
the target's indices, then the other indices in order of first appearance. So elementwise
operands line up by inserting axes, and only reads and the final store need a permute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tensorc import ops
from tensorc.errors import ProgramError, ShapeError, Span, TensorcError
from tensorc.frontend import ast
from tensorc.ir import nodes as ir
from tensorc.ir.nodes import ELLIPSIS, composed_label
from tensorc.ops import OPS, Kind, Value

CONSTANTS = {"inf": "inf", "pi": "pi"}


def lower_program(program: ast.Program) -> ir.Program:
    """The IR of a parsed program; errors carry the program's source."""
    try:
        return _Lowering(program).run()
    except TensorcError as error:
        raise error.with_source(program.source) from None


@dataclass
class _Target:
    """What a statement's target holds: its IR name and stored axis labels."""

    let_name: str
    labels: tuple[str, ...]


@dataclass
class _Lowering:
    program: ast.Program
    index_names: dict[str, Span] = field(default_factory=dict)
    targets: dict[str, _Target] = field(default_factory=dict)
    inputs: dict[str, ir.Input] = field(default_factory=dict)
    input_ranks: dict[str, tuple[int, bool, Span]] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    definitions: dict[str, int] = field(default_factory=dict)  # how often a name was assigned

    def run(self) -> ir.Program:
        self.index_names = _collect_indices(self.program)
        self._declare_inputs_in_source_order()
        lets = [self._statement(statement) for statement in self.program.statements]
        outputs, as_tuple = self._outputs()
        return ir.Program(
            inputs=tuple(self.inputs.values()),
            lets=tuple(lets),
            outputs=outputs,
            size_params=(),
            source=self.program.source,
            tuple_output=as_tuple,
        )

    def _declare_inputs_in_source_order(self) -> None:
        """Inputs are the names read before they are assigned, in order of first appearance."""
        assigned: set[str] = set()
        for statement in self.program.statements:
            found = sorted(_names_read(statement.value), key=lambda n: (n.span.line, n.span.column))
            for node in found:
                name = node.tensor if isinstance(node, ast.Access) else node.name
                if name in assigned or name in self.index_names or name in self.inputs:
                    continue
                if isinstance(node, ast.Name) and name in CONSTANTS:
                    continue
                if isinstance(node, ast.Access):
                    labels = _expanded(node.axes)
                    self._declare_input(name, len(node.axes), ELLIPSIS in labels, node.span, False)
                else:
                    self._declare_input(name, 0, False, node.span, scalar=True)
            assigned.add(statement.target)

    # --- statements -------------------------------------------------------------------------

    def _statement(self, statement: ast.Assign) -> ir.Let:
        name = statement.target
        if name in self.index_names:
            raise self._both_ways(name, statement.span)
        if name in CONSTANTS:
            raise ProgramError(f"'{name}' is a constant and cannot be assigned", statement.span)
        target_axes = statement.axes or ()
        target_indices = _expanded(target_axes)
        if len(set(target_indices)) != len(target_indices):
            raise ShapeError(f"an index appears twice on the left of '{name}'", statement.span)
        if target_indices.count(ELLIPSIS) > 1:
            raise ShapeError("'...' may appear only once", statement.span)
        others = [i for i in _indices_in(statement.value) if i not in target_indices]
        self.order = _canonical((*target_indices, *others))
        value = self._einstein(statement.value, tuple(i for i in self.order if i in target_indices))
        value = self._store(value, target_axes, statement)
        let_name = name
        if name in self.targets or name in self.inputs:
            self.definitions[name] = self.definitions.get(name, 1) + 1
            let_name = f"{name}#{self.definitions[name]}"

        self.targets[name] = _Target(let_name, value.indices)
        return ir.Let(let_name, value, statement.text, statement.span)

    def _einstein(self, expr: ast.Expr, wanted: tuple[str, ...]) -> ir.Node:
        """Lowers a right-hand side, summing the indices the target lacks where it is a product."""
        if ELLIPSIS not in wanted and ELLIPSIS in _indices_in(expr):
            raise ShapeError("the right-hand side uses '...' but the left does not", expr.span)
        product = self._product(expr, wanted)
        if product is not None:
            return product
        value = self._expr(expr)
        extra = [i for i in value.indices if i not in wanted]
        if extra:
            index = extra[0]
            raise ShapeError(
                f"index '{index}' is not on the left-hand side and must be reduced: "
                f"write sum[{index}](...)",
                _find_index_span(expr, index) or expr.span,
            )
        return value

    def _store(
        self, value: ir.Node, target_axes: tuple[ast.Axis, ...], stmt: ast.Assign
    ) -> ir.Node:
        """Broadcasts, merges composed axes and orders the value as the target is written."""
        expanded = _expanded(target_axes)
        canonical = tuple(i for i in self.order if i in expanded)
        if value.indices != canonical:
            if ELLIPSIS in canonical and ELLIPSIS not in value.indices:
                raise ShapeError("the left-hand side has '...' but the right does not", stmt.span)
            value = ir.Expand(value, canonical)
        if expanded != canonical:
            value = ir.Permute(value, tuple(canonical.index(i) for i in expanded))
        labels = tuple(_axis_label(axis) for axis in target_axes)
        if labels != expanded:
            value = ir.Reshape(value, labels)
        return value

    def _outputs(self) -> tuple[tuple[str, ...], bool]:
        returns = self.program.returns
        if returns is None:
            return (self.targets[self.program.statements[-1].target].let_name,), False
        names = []
        for name in returns.names:
            if name.name in self.targets:
                names.append(self.targets[name.name].let_name)
            elif name.name in self.inputs:
                names.append(name.name)
            else:
                raise ProgramError(f"cannot return '{name.name}': it is never assigned", name.span)
        return tuple(names), len(names) > 1

    # --- expressions ------------------------------------------------------------------------

    def _expr(self, expr: ast.Expr) -> ir.Node:
        if isinstance(expr, ast.Number):
            return ir.Const(float(expr.value), repr(expr.value))
        if isinstance(expr, ast.Name):
            return self._name(expr)
        if isinstance(expr, ast.Access):
            return self._access(expr)
        if isinstance(expr, ast.Unary):
            return self._map(_operator(expr.op, 1), (expr.operand,))
        if isinstance(expr, ast.Binary):
            if expr.op in ("*", "/"):
                product = self._product(expr, None)
                if product is not None:
                    return product
            return self._map(_operator(expr.op, 2), (expr.left, expr.right))
        if isinstance(expr, ast.Call):
            return self._call(expr)
        return self._along(expr)

    def _name(self, expr: ast.Name) -> ir.Node:
        name = expr.name
        if name in self.index_names:
            if name not in self.order:
                raise ShapeError(f"index '{name}' is not used by this statement", expr.span)
            return ir.IndexValue(name)
        if name in self.targets:
            target = self.targets[name]
            if target.labels:
                raise ShapeError(
                    f"'{name}' has {len(target.labels)} axes: write {name}[...]", expr.span
                )
            return ir.Var(target.let_name, (), expr.span)
        if name in CONSTANTS:
            return ir.Const(float("inf") if name == "inf" else 3.141592653589793, name)
        self._declare_input(name, 0, False, expr.span, scalar=True)
        return ir.Var(name, (), expr.span)

    def _access(self, expr: ast.Access) -> ir.Node:
        name = expr.tensor
        if name in self.index_names:
            raise self._both_ways(name, expr.span)
        if name in CONSTANTS:
            raise ProgramError(f"'{name}' is a constant, not a tensor", expr.span)
        labels = tuple(_axis_label(axis) for axis in expr.axes)
        if labels.count(ELLIPSIS) > 1:
            raise ShapeError("'...' may appear only once", expr.span)
        if name in self.targets:
            target = self.targets[name]
            no_ellipsis = ELLIPSIS not in target.labels and ELLIPSIS not in labels
            if no_ellipsis and len(labels) != len(target.labels):
                raise ShapeError(
                    f"{name} has {len(target.labels)} axes but is indexed with {len(labels)}",
                    expr.span,
                )
            node: ir.Node = ir.Var(target.let_name, labels, expr.span)
        else:
            self._declare_input(name, len(labels), ELLIPSIS in labels, expr.span, scalar=False)
            node = ir.Var(name, labels, expr.span)
        expanded = _expanded(expr.axes)
        if labels != expanded:
            node = ir.Reshape(node, expanded)
        node = _take_diagonals(node)
        return _permute_to(node, self.order)

    def _both_ways(self, name: str, span: Span) -> ProgramError:
        """The error for a name used as a tensor at `span` and as an index elsewhere: it points
        at whichever use comes later in the program."""
        index_span = self.index_names[name]
        later = max(span, index_span, key=lambda s: (s.line, s.column))
        return ProgramError(f"'{name}' is used both as an index and as a tensor", later)

    def _declare_input(
        self, name: str, rank: int, ellipsis: bool, span: Span, scalar: bool
    ) -> None:
        if name not in self.inputs:
            self.inputs[name] = ir.Input(name, scalar, span)
            self.input_ranks[name] = (rank, ellipsis, span)
            return
        known_rank, known_ellipsis, _ = self.input_ranks[name]
        if self.inputs[name].is_scalar != scalar:
            raise ShapeError(f"'{name}' is used both as a scalar and as a tensor", span)
        if not ellipsis and not known_ellipsis and rank != known_rank:
            raise ShapeError(
                f"{name} is indexed with {rank} axes here but with {known_rank} before", span
            )

    def _map(self, op: ops.Op, operands: tuple[ast.Expr, ...]) -> ir.Node:
        args = tuple(
            _as(value, self._expr(operand))
            for value, operand in zip(op.operands, operands, strict=True)
        )
        labels = _union(args, self.order)
        return ir.Map(op.name, args, labels)

    def _call(self, expr: ast.Call) -> ir.Node:
        func = expr.func
        op = ops.function(func)
        if op is not None:
            _check_arity(expr, op.arity)
            return self._map(op, expr.args)
        if ops.along(func) is not None:
            raise ProgramError(
                f"{func} needs the index to work along: write {func}[i](...)", expr.span
            )
        raise ProgramError(f"unknown function '{func}'", expr.span)

    def _along(self, expr: ast.Along) -> ir.Node:
        func = expr.func
        names = tuple(axis.name for axis in expr.indices)
        op = ops.along(func)
        if op is None:
            raise ProgramError(f"unknown reduction '{func}'", expr.span)
        if len(set(names)) != len(names):
            raise ShapeError(f"{func}[...] names an index twice", expr.span)
        operand = _as(op.operands[0], self._expr(expr.operand))
        for axis in expr.indices:
            if axis.name not in operand.indices:
                raise ShapeError(
                    f"{func} is along '{axis.name}', which its argument does not use", axis.span
                )
        if op.kind is Kind.NORMALISER:
            if len(names) != 1:
                raise ShapeError(f"{func} works along exactly one index", expr.span)
            return ir.Along(op.name, operand, names[0])
        kept = tuple(i for i in operand.indices if i not in names)
        if func == "sum":
            product = self._product(expr.operand, kept, explicit=True)
            if product is not None:
                return product
        return ir.Reduce(op.name, operand, kept)

    def _product(
        self, expr: ast.Expr, wanted: tuple[str, ...] | None, explicit: bool = False
    ) -> ir.Node | None:
        """A product of factors as one Contract summing what `wanted` lacks; None if not a product.

        Scalar divisors join the product as reciprocals; an indexed divisor divides the result,
        so it may not use a summed index: an error under the Einstein rule, and under an
        explicit `sum[...]` a plain sum of the quotient instead.
        """
        factors, divisors, negate = ast.flatten_product(expr)
        if len(factors) + len(divisors) < 2 and not (
            len(factors) == 1 and isinstance(factors[0], ast.Access)
        ):
            return None
        lowered = tuple(_numeric(self._expr(factor)) for factor in factors)
        quotients = [(_numeric(self._expr(divisor)), divisor) for divisor in divisors]
        every = _union(lowered + tuple(node for node, _ in quotients), self.order)
        keep = every if wanted is None else tuple(i for i in every if i in wanted)
        summed = set(every) - set(keep)
        for node, divisor in quotients:
            for index in node.indices:
                if index in summed:
                    if explicit:
                        return None
                    raise ShapeError(
                        f"index '{index}' is summed but also used in a divisor; "
                        f"write sum[{index}](...) around the whole quotient",
                        divisor.span,
                    )
        kept = tuple(i for i in _union(lowered, self.order) if i in keep)
        result: ir.Node = ir.Contract(lowered, kept)
        if len(lowered) == 1 and kept == lowered[0].indices:
            result = lowered[0]
        for node, _ in quotients:
            result = ir.Map("div", (result, node), _union((result, node), self.order))
        if negate:
            result = ir.Map("neg", (result,), result.indices)
        return result


# --- helpers --------------------------------------------------------------------------------


def _operator(symbol: str, arity: int) -> ops.Op:
    op = ops.operator(symbol, arity)
    assert op is not None, f"the grammar made an operator {symbol!r} that the table lacks"
    return op


def _as(value: Value, node: ir.Node) -> ir.Node:
    """An argument as the operation takes it: a number, a boolean, or as it is."""
    if value is Value.NUMBER:
        return _numeric(node)
    if value is Value.BOOLEAN:
        return _condition(node)
    return node


def _is_boolean(node: ir.Node) -> bool:
    return isinstance(node, ir.Map | ir.Reduce) and OPS[node.op].boolean


def _numeric(node: ir.Node) -> ir.Node:
    """A comparison used as a number becomes 1 or 0: backends disagree on arithmetic with
    booleans (numpy refuses `-b`, and adds them as logical or)."""
    if _is_boolean(node):
        return ir.Map("where", (node, ir.Const(1.0, "1"), ir.Const(0.0, "0")), node.indices)
    return node


def _condition(node: ir.Node) -> ir.Node:
    """A `where` condition as a boolean: anything but a comparison is tested against zero."""
    if _is_boolean(node):
        return node
    return ir.Map("ne", (node, ir.Const(0.0, "0")), node.indices)


def _collect_indices(program: ast.Program) -> dict[str, Span]:
    """Every name used as an index anywhere (between brackets or as a reduction index), with
    the statement of its first use."""
    names: dict[str, Span] = {}
    for statement in program.statements:
        for index in (*_expanded(statement.axes or ()), *_indices_in(statement.value)):
            if index != ELLIPSIS:
                names.setdefault(index, statement.span)
    return names


def _indices_in(expr: ast.Expr) -> Iterator[str]:
    """The index names an expression uses, in order of appearance (with repeats)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Access):
            yield from _expanded(node.axes)
        elif isinstance(node, ast.Along):
            yield from (axis.name for axis in node.indices)


def _names_read(expr: ast.Expr) -> Iterator[ast.Access | ast.Name]:
    """Every tensor access and bare name in an expression."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Access | ast.Name):
            yield node


def _expanded(axes: tuple[ast.Axis, ...]) -> tuple[str, ...]:
    """The index names of an axis list, composed axes spelled out."""
    out: list[str] = []
    for axis in axes:
        if isinstance(axis, ast.IndexAxis):
            out.append(axis.name)
        elif isinstance(axis, ast.EllipsisAxis):
            out.append(ELLIPSIS)
        else:
            out.extend(axis.names)
    return tuple(out)


def _axis_label(axis: ast.Axis) -> str:
    if isinstance(axis, ast.IndexAxis):
        return axis.name
    if isinstance(axis, ast.EllipsisAxis):
        return ELLIPSIS
    if len(set(axis.names)) != len(axis.names):
        raise ShapeError("a composed axis names an index twice", axis.span)
    return composed_label(axis.names)


def _canonical(indices: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct indices in order of first appearance, the ellipsis first."""
    seen = dict.fromkeys(indices)
    ordered = [i for i in seen if i != ELLIPSIS]
    return (ELLIPSIS, *ordered) if ELLIPSIS in seen else tuple(ordered)


def _union(nodes: tuple[ir.Node, ...], order: tuple[str, ...]) -> tuple[str, ...]:
    present = {label for node in nodes for label in node.indices}
    return tuple(i for i in order if i in present)


def _take_diagonals(node: ir.Node) -> ir.Node:
    """Takes one diagonal per repeated label until the labels are distinct."""
    while True:
        labels = node.indices
        repeated = next((i for i, label in enumerate(labels) if label in labels[:i]), None)
        if repeated is None:
            return node
        node = ir.Diagonal(node, labels.index(labels[repeated]), repeated)


def _permute_to(node: ir.Node, order: tuple[str, ...]) -> ir.Node:
    labels = node.indices
    wanted = tuple(i for i in order if i in labels)
    if wanted == labels:
        return node
    return ir.Permute(node, tuple(labels.index(i) for i in wanted))


def _check_arity(expr: ast.Call, count: int) -> None:
    if len(expr.args) != count:
        plural = "s" if count != 1 else ""
        raise ProgramError(
            f"{expr.func} takes {count} argument{plural} but got {len(expr.args)}", expr.span
        )


def _find_index_span(expr: ast.Expr, index: str) -> Span | None:
    for node in ast.walk(expr):
        if isinstance(node, ast.Access):
            for axis in node.axes:
                if isinstance(axis, ast.IndexAxis) and axis.name == index:
                    return axis.span
                if isinstance(axis, ast.ComposedAxis) and index in axis.names:
                    return axis.span
    return None
