"""AST -> IR lowering, through `tensorc.compiler.front_end` and the IR node classes.

What is pinned down here: the Einstein rule (implicit sums only over products and single
accesses), explicit reductions (a sum of a product is a `Contract`, anything else a `Reduce`),
the statement's canonical axis order, diagonals, composed axes as `Reshape`, reads of earlier
targets, redefinitions, the order of inputs and scalar inputs. Nodes compare structurally
(spans and planner reports are not compared), so expected IR is written out as nodes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorc as tc
from tensorc.compiler import front_end
from tensorc.ir import nodes as ir


def value(source: str, statement: int = -1) -> ir.Node:
    """The IR value of one statement of `source` (the last by default)."""
    return front_end(source).lets[statement].value


def var(name: str, *labels: str) -> ir.Var:
    return ir.Var(name, labels)


def kinds(node: ir.Node) -> set[type]:
    return {type(n) for n in ir.walk(node)}


def is_subsequence(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    rest = iter(whole)
    return all(label in rest for label in part)


# --- the Einstein rule ----------------------------------------------------------------------


def test_matmul_is_one_contract_that_sums_j():
    assert value("C[i, k] = A[i, j] * B[j, k]") == ir.Contract(
        (var("A", "i", "j"), ir.Permute(var("B", "j", "k"), (1, 0))), ("i", "k")
    )


def test_contract_reports_its_summed_indices():
    node = value("y[i] = A[i, j, k] * x[k] * z[j]")
    assert isinstance(node, ir.Contract)
    assert node.labels == ("i",)
    assert node.summed == ("j", "k")


def test_full_contraction_gives_a_scalar_contract():
    assert value("s = x[i] * y[i]") == ir.Contract((var("x", "i"), var("y", "i")), ())


def test_single_access_sums_what_the_target_lacks():
    # numpy.einsum("ij->i") semantics: one indexed term is a product of one factor.
    assert value("y[i] = A[i, j]") == ir.Contract((var("A", "i", "j"),), ("i",))


def test_product_without_summed_index_is_a_contract_with_every_label():
    assert value("D[b, i, j] = x[b, i] * y[b, j]") == ir.Contract(
        (var("x", "b", "i"), var("y", "b", "j")), ("b", "i", "j")
    )


def test_scalar_factors_join_the_product_and_scalar_divisors_divide_it():
    node = value("y[i] = alpha * A[i, j] * x[j] / beta")
    assert node == ir.Map(
        "div",
        (ir.Contract((var("alpha"), var("A", "i", "j"), var("x", "j")), ("i",)), var("beta")),
        ("i",),
    )


def test_indexed_divisor_divides_the_summed_product():
    node = value("y[i] = A[i, j] * x[j] / z[i]")
    assert node == ir.Map(
        "div", (ir.Contract((var("A", "i", "j"), var("x", "j")), ("i",)), var("z", "i")), ("i",)
    )


def test_negated_product_is_a_negated_contract():
    node = value("y[i] = -A[i, j] * x[j]")
    assert node == ir.Map(
        "neg", (ir.Contract((var("A", "i", "j"), var("x", "j")), ("i",)),), ("i",)
    )


def test_divisor_that_uses_a_summed_index_is_an_error():
    with pytest.raises(tc.ShapeError, match="index 'j' is summed but also used in a divisor"):
        front_end("y[i] = A[i, j] / x[j]")


@pytest.mark.parametrize(
    "source",
    [
        "y[i] = A[i, j] + B[i, j]",
        "y[i] = exp(A[i, j])",
        "y[i] = A[i, j] - x[j]",
        "y[i] = relu(A[i, j] * x[j])",
    ],
)
def test_einstein_rule_does_not_sum_outside_a_product(source):
    with pytest.raises(tc.ShapeError) as caught:
        front_end(source)
    assert caught.value.message == (
        "index 'j' is not on the left-hand side and must be reduced: write sum[j](...)"
    )


def test_product_inside_an_elementwise_operation_is_summed_only_where_written():
    # The product is an operand of `+`, not the whole right-hand side: it keeps its axes.
    node = value("Y[i, j] = A[i, j] * B[i, j] + C[i, j]")
    assert isinstance(node, ir.Map) and node.op == "add"
    assert node.args[0] == ir.Contract((var("A", "i", "j"), var("B", "i", "j")), ("i", "j"))


# --- explicit reductions --------------------------------------------------------------------


def test_sum_of_a_product_is_a_contract():
    node = value("C[i, k] = sum[j](A[i, j] * B[j, k] * c[i])")
    assert isinstance(node, ir.Contract)
    assert node.summed == ("j",)
    assert [f.indices for f in node.factors] == [("i", "j"), ("k", "j"), ("i",)]


def test_sum_of_a_single_access_is_a_contract():
    node = value("P[i, j] = A[i, j] / sum[k](A[i, k])")
    assert node == ir.Map(
        "div",
        (var("A", "i", "j"), ir.Contract((var("A", "i", "k"),), ("i",))),
        ("i", "j"),
    )


def test_sum_of_anything_else_is_a_reduce():
    node = value("s[i] = sum[j](A[i, j] + B[j, i])")
    assert isinstance(node, ir.Reduce)
    assert (node.op, node.labels, node.reduced) == ("sum", ("i",), ("j",))
    assert isinstance(node.operand, ir.Map) and node.operand.op == "add"


@pytest.mark.parametrize("op", ["prod", "max", "min", "mean", "logsumexp"])
def test_other_reductions_are_reduce_nodes_even_of_products(op):
    node = value(f"m[j] = {op}[i](A[i, j] * B[i, j])")
    assert isinstance(node, ir.Reduce)
    assert (node.op, node.labels, node.reduced) == (op, ("j",), ("i",))


def test_several_reduced_indices_at_once():
    node = value("n = sqrt(sum[i, j](A[i, j] ** 2))")
    assert isinstance(node, ir.Map) and node.op == "sqrt"
    (inner,) = node.args
    assert isinstance(inner, ir.Reduce)
    assert (inner.labels, inner.reduced) == ((), ("i", "j"))


@pytest.mark.parametrize("op", ["softmax", "cumsum"])
def test_normalisers_keep_the_shape(op):
    assert value(f"Z[i, j] = {op}[j](S[i, j])") == ir.Along(op, var("S", "i", "j"), "j")


# --- canonical label order ------------------------------------------------------------------


def test_transpose_permutes_the_read_and_not_the_store():
    assert value("T[j, i] = A[i, j]") == ir.Permute(var("A", "i", "j"), (1, 0))


def test_order_is_target_indices_then_others_by_first_appearance():
    # Statement order: k, i (the target), then j.
    node = value("C[k, i] = B[k, j] * A[i, j]")
    assert node == ir.Contract((var("B", "k", "j"), var("A", "i", "j")), ("k", "i"))


def test_reduction_operand_is_permuted_to_the_statement_order():
    assert value("m[j] = mean[i](A[i, j])") == ir.Reduce(
        "mean", ir.Permute(var("A", "i", "j"), (1, 0)), ("j",)
    )


def test_ellipsis_comes_first():
    node = value("C[..., i, k] = A[..., i, j] * B[..., j, k]")
    assert node == ir.Contract(
        (var("A", "...", "i", "j"), ir.Permute(var("B", "...", "j", "k"), (0, 2, 1))),
        ("...", "i", "k"),
    )


def test_elementwise_operands_line_up_by_inserting_axes():
    node = value("R[i, j] = relu(X[i, j] + b[j])")
    assert node == ir.Map(
        "relu", (ir.Map("add", (var("X", "i", "j"), var("b", "j")), ("i", "j")),), ("i", "j")
    )


def test_broadcast_to_a_missing_target_index_is_an_expand():
    assert value("y[i, j] = x[i]") == ir.Expand(var("x", "i"), ("i", "j"))


def test_index_names_as_values():
    node = value("M[i, j] = where(j <= i, S[i, j], -inf)")
    assert isinstance(node, ir.Map) and node.op == "where"
    condition, _, fill = node.args
    assert condition == ir.Map("le", (ir.IndexValue("j"), ir.IndexValue("i")), ("i", "j"))
    assert fill == ir.Map("neg", (ir.Const(float("inf"), "inf"),), ())


@settings(max_examples=40, deadline=None)
@given(st.permutations("ijkl"), st.permutations("ijkl"))
def test_every_computed_node_follows_the_statement_order(target, access):
    """Whatever the target and access orders, every node except a raw read and the final
    store permute has its labels in the statement's order (target indices first)."""
    source = (
        f"Y[{', '.join(target)}] = exp(X[{', '.join(access)}]) * "
        f"W[{access[1]}, {access[3]}] + V[{access[0]}]"
    )
    order = tuple(target)
    root = value(source)
    for node in ir.walk(root):
        if isinstance(node, ir.Var):
            continue
        assert is_subsequence(node.indices, order), (source, node)
    assert root.indices == order


# --- diagonals ------------------------------------------------------------------------------


def test_repeated_index_takes_the_diagonal():
    assert value("d[i] = A[i, i]") == ir.Diagonal(var("A", "i", "i"), 0, 1)


def test_trace_sums_the_diagonal():
    assert value("t = A[i, i]") == ir.Contract((ir.Diagonal(var("A", "i", "i"), 0, 1),), ())


def test_diagonal_axis_moves_to_the_end_then_is_permuted_back():
    node = value("B[i, j] = A[i, j, i]")
    assert node == ir.Permute(ir.Diagonal(var("A", "i", "j", "i"), 0, 2), (1, 0))
    assert node.operand.indices == ("j", "i")


def test_index_three_times_takes_two_diagonals():
    node = value("t = A[i, i, i]")
    diagonals = [n for n in ir.walk(node) if isinstance(n, ir.Diagonal)]
    assert len(diagonals) == 2
    assert node.indices == ()


# --- composed axes --------------------------------------------------------------------------


def test_merging_composed_axis_is_a_reshape_of_the_permuted_read():
    node = value("Y[b, n, (h d)] = X[b, h, n, d]")
    assert node == ir.Reshape(
        ir.Permute(var("X", "b", "h", "n", "d"), (0, 2, 1, 3)), ("b", "n", "(h d)")
    )


def test_splitting_composed_axis_reshapes_the_read():
    node = value("X[b, h, n, d] = Y[b, n, (h d)]")
    assert node == ir.Permute(
        ir.Reshape(var("Y", "b", "n", "(h d)"), ("b", "n", "h", "d")), (0, 2, 1, 3)
    )


def test_composed_label_helpers():
    assert ir.composed_label(("h", "d")) == "(h d)"
    assert ir.label_parts("(h d)") == ("h", "d")
    assert ir.label_parts("i") == ("i",)


# --- statements, targets and inputs ---------------------------------------------------------


def test_later_statements_read_earlier_targets():
    program = front_end("B[j, i] = A[i, j]\nC[i] = B[j, i] * x[j]")
    assert [spec.name for spec in program.inputs] == ["A", "x"]
    assert [let.name for let in program.lets] == ["B", "C"]
    assert program.lets[1].value == ir.Contract(
        (ir.Permute(var("B", "j", "i"), (1, 0)), var("x", "j")), ("i",)
    )
    assert program.outputs == ("C",)


def test_scalar_target_is_read_by_bare_name():
    program = front_end("s = x[i] * x[i]\ny[i] = x[i] / s")
    assert program.lets[1].value == ir.Map("div", (var("x", "i"), var("s")), ("i",))
    assert [spec.name for spec in program.inputs] == ["x"]


def test_redefinition_gets_a_fresh_ir_name_and_reads_the_previous_value():
    program = front_end("C[i] = a[i]\nC[i] = C[i] + b[i]")
    assert [let.name for let in program.lets] == ["C", "C#2"]
    assert program.lets[1].value == ir.Map("add", (var("C", "i"), var("b", "i")), ("i",))
    assert program.outputs == ("C#2",)
    assert ir.display_name("C#2") == "C"


def test_redefining_an_input_reads_the_argument_first():
    program = front_end("x[i] = x[i] * 2\nx[i] = x[i] + 1")
    assert [spec.name for spec in program.inputs] == ["x"]
    first, second = program.lets
    assert first.name != "x" and second.name not in ("x", first.name)
    assert var("x", "i") in ir.walk(first.value)
    assert second.value == ir.Map("add", (var(first.name, "i"), ir.Const(1.0, "1")), ("i",))
    assert tc.compile("x[i] = x[i] * 2\nx[i] = x[i] + 1").outputs == ("x",)


def test_return_names_a_tuple_of_targets():
    program = front_end("a[i] = x[i]\nb[i] = x[i] * 2\nreturn a, b")
    assert program.outputs == ("a", "b")
    assert program.tuple_output


def test_statement_source_is_kept_for_comments():
    program = front_end("C[i, k] = A[i, j] * B[j, k]  # matmul\ny[i] = C[i, k]")
    assert [let.source for let in program.lets] == ["C[i, k] = A[i, j] * B[j, k]", "y[i] = C[i, k]"]


@pytest.mark.parametrize(
    ("source", "inputs"),
    [
        ("z[i] = c[i] * (b[i] + a[i])", ["c", "b", "a"]),
        ("t[i] = b[i] + 1\nu[i] = t[i] * a[i] + b[i]", ["b", "a"]),
        ("C[i, k] = B[j, k] * A[i, j]", ["B", "A"]),
        ("Y[i] = alpha * X[i] + beta", ["alpha", "X", "beta"]),
        ("u[i] = x[i] * 2; v[i] = u[i] + w[i]; r[i] = v[i] * x[i] * q", ["x", "w", "q"]),
    ],
)
def test_inputs_in_order_of_first_appearance(source, inputs):
    assert [spec.name for spec in front_end(source).inputs] == inputs
    assert list(tc.compile(source).inputs) == inputs


def test_scalar_inputs_are_marked_and_have_no_axes():
    program = front_end("Y[i] = alpha * X[i] + beta")
    assert [(spec.name, spec.is_scalar) for spec in program.inputs] == [
        ("alpha", True),
        ("X", False),
        ("beta", True),
    ]
    assert program.lets[0].value == ir.Map(
        "add",
        (ir.Contract((var("alpha"), var("X", "i")), ("i",)), var("beta")),
        ("i",),
    )


def test_scalar_only_program():
    program = front_end("y = 2 * alpha")
    assert [(spec.name, spec.is_scalar) for spec in program.inputs] == [("alpha", True)]
    assert program.lets[0].value.indices == ()


def test_constants_are_not_inputs():
    program = front_end("y[i] = x[i] * pi + inf")
    assert [spec.name for spec in program.inputs] == ["x"]
    consts = {n.text for n in ir.walk(program.lets[0].value) if isinstance(n, ir.Const)}
    assert consts == {"pi", "inf"}


def test_index_sizes_no_input_determines_become_size_parameters():
    split = front_end("X[b, h, n, d] = Y[b, n, (h d)]")
    assert split.size_params == (ir.SizeParam("h"), ir.SizeParam("d"))
    assert front_end("y[i, j] = x[i]").size_params == (ir.SizeParam("j"),)
    assert front_end("C[i, k] = A[i, j] * B[j, k]").size_params == ()


def test_einsum_subscripts_lower_to_the_same_kind_of_ir():
    program = front_end("ij,jk->ik", einsum=True)
    assert [spec.name for spec in program.inputs] == ["x0", "x1"]
    assert kinds(program.lets[0].value) == {ir.Contract, ir.Var, ir.Permute}


@pytest.mark.parametrize("spec", ["i,->", "ij,,jk->ik"])
def test_einsum_inputs_are_the_operands_in_order_even_scalar_ones(spec):
    """Once a bug: an empty subscript sorted first, so `i,->` bound the scalar to x0."""
    program = front_end(spec, einsum=True)
    operands = spec.split("->")[0].split(",")
    assert [spec.name for spec in program.inputs] == [f"x{k}" for k in range(len(operands))]
    arrays = [np.full([2] * len(term), 1.5) for term in operands]
    np.testing.assert_allclose(tc.einsum(spec, *arrays, backend="numpy"), np.einsum(spec, *arrays))


def test_name_used_as_index_and_tensor_is_an_error():
    with pytest.raises(tc.TensorcError, match="'i' is used both as an index and as a tensor"):
        front_end("y[j] = x[j] * i[j]\nz[i] = y[i]")


# --- issue 8, item 12: an index read only as a value -----------------------------------------


def test_an_index_used_only_as_a_value_in_a_product_is_summed():
    """`i` is an index (Z[i] uses it); in Y's statement it is only a value, and by the
    Einstein rule it is summed. It was refused: "index 'i' is not used by this statement"."""
    source = "Y[j] = A[j] * i\nZ[i] = B[i]\nreturn Y, Z"
    assert value(source, 0) == ir.Contract((var("A", "j"), ir.IndexValue("i")), ("j",))
    y, z = tc.compile(source, backend="numpy")(np.ones(2), np.ones(4))
    np.testing.assert_array_equal(y, [6.0, 6.0])  # 0 + 1 + 2 + 3
    np.testing.assert_array_equal(z, np.ones(4))


def test_an_index_used_only_as_a_value_outside_a_product_must_be_reduced():
    with pytest.raises(tc.ShapeError, match=r"index 'i' is not on the left-hand side .* sum\[i\]"):
        front_end("Y[j] = A[j] + i\nZ[i] = B[i]")
