"""`tensorc compile`: print the generated module, the optimised IR, or every shape."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from math import prod
from typing import Any

from tensorc import backends
from tensorc.autodiff import grad, jvp, vjp
from tensorc.check import DEFAULT_TOLERANCE, check
from tensorc.errors import TensorcError
from tensorc.ir.labels import ELLIPSIS, parts
from tensorc.ir.shapes import LARGEST_ARRAY, Sizes
from tensorc.passes import PASSES
from tensorc.runtime import Program, compile_program

DESCRIPTION = """\
Compile a tensorc program (index notation such as `C[i, k] = A[i, j] * B[j, k]`)
and print the generated Python module, the optimised IR, or the shape of every tensor.

examples:
  tensorc compile model.tc --backend NAME     # NAME: one of {backends} (default {default})
  tensorc compile -e "C[i,k] = A[i,j]*B[j,k]"
  tensorc compile model.tc --emit ir
  tensorc compile model.tc --emit shapes --shape A=2x3 --shape B=3x4
  tensorc compile loss.tc --grad W,b          # the gradient program's module
  tensorc compile model.tc --vjp W            # reverse mode for any result (takes dY)
  tensorc compile model.tc --jvp W            # forward mode (takes dW)

With --emit, inputs that --shape leaves out get the shapes that the others and --size imply.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (1 for a bad program, 2 for bad usage)."""
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command == "check":
        return _check(options)
    shapes = {}
    for text in options.shape:
        name, shape = _parse_shape(parser, text)
        shapes[name] = shape
    sizes = dict(_parse_size(parser, text) for text in options.size)
    if options.file is None and options.expression is None:
        parser.error("give a program FILE or -e PROGRAM")
    if options.file is not None and options.expression is not None:
        parser.error("give either a FILE or -e PROGRAM, not both")
    if options.emit == "shapes" and not shapes and not sizes:
        parser.error("--emit shapes needs the input shapes: --shape NAME=2x3 ...")

    def compile_and_print() -> int:
        program = _compile(options, _source(options))
        backend = options.backend or backends.DEFAULT
        print(_emit(program, options.emit, shapes, sizes, backend), end="")
        return 0

    return _reporting_errors(options, compile_and_print)


DERIVATIVES = {"grad": grad, "vjp": vjp, "jvp": jvp}


def _compile(options: argparse.Namespace, source: str) -> Program:
    """The program, or with --grad, --vjp or --jvp its derivative, compiled as asked."""
    passes = () if options.passes == "none" else PASSES
    program = compile_program(source, options.backend, passes)
    mode = next((mode for mode in DERIVATIVES if getattr(options, mode)), None)
    if mode is None:
        return program
    wrt = tuple(name for text in getattr(options, mode) for name in text.split(",") if name)
    if mode == "grad":
        _check_scalar(program, ",".join(wrt))
    return DERIVATIVES[mode](source, wrt, options.backend, passes=passes).program


def _check_scalar(program: Program, wrt: str) -> None:
    """TensorcError for --grad of a program that does not return one scalar, naming the
    options that differentiate any program."""
    labels = program.labels()
    returned = [
        f"{name}[{', '.join(labels[name])}]" if labels.get(name) else name
        for name in program.outputs
    ]
    if len(returned) == 1 and not labels.get(program.outputs[0]):
        return
    first = program.outputs[0]
    raise TensorcError(
        f"--grad needs a program that returns one scalar, but this one returns "
        f"{', '.join(returned)}: --vjp {wrt} compiles the reverse mode for any result, as "
        f"tc.vjp (its module takes a cotangent d{first} shaped like {first}), --jvp {wrt} the "
        "forward mode, as tc.jvp"
    )


def _source(options: argparse.Namespace) -> str:
    """The program text: the -e argument, or the file's contents."""
    return options.expression if options.file is None else _read(options.file)


def _reporting_errors(options: argparse.Namespace, command: Callable[[], int]) -> int:
    """Runs a command; a bad program or an unreadable file is a message and exit status 1."""
    try:
        return command()
    except TensorcError as error:
        print(f"error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"error: cannot read {options.file}: {error.strerror}", file=sys.stderr)
    except UnicodeDecodeError:
        print(f"error: {options.file} is not UTF-8 text", file=sys.stderr)
    except MemoryError:
        print("error: not enough memory for arrays of these shapes", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    names = list(backends.BACKENDS)
    parser = argparse.ArgumentParser(
        prog="tensorc",
        description="tensorc: tensor index notation compiled to NumPy, JAX and PyTorch code.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compile_ = commands.add_parser(
        "compile",
        help="compile a program and print the generated code, the IR or the shapes",
        description=DESCRIPTION.format(backends=", ".join(names), default=backends.DEFAULT),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_program_arguments(
        compile_, "an input's shape (repeatable); specialises code and IR to these sizes"
    )
    compile_.add_argument(
        "--backend", choices=names, default=None, help=f"default: {backends.DEFAULT}"
    )
    _add_choice(
        compile_,
        "--emit",
        ("code", "ir", "shapes"),
        "what to print: the generated module (default), the optimised IR, or every shape",
    )
    _add_choice(
        compile_,
        "--passes",
        ("all", "none"),
        "'none' shows the program before the optimising passes",
    )
    derivatives = compile_.add_mutually_exclusive_group()
    for mode, what in (
        ("grad", "the gradient of the (scalar) result"),
        ("vjp", "the reverse mode (vector-Jacobian product) of any result"),
        ("jvp", "the forward mode (Jacobian-vector product)"),
    ):
        derivatives.add_argument(
            f"--{mode}",
            action="append",
            default=[],
            metavar="X[,Y]",
            help=f"compile {what} with respect to these inputs instead (tc.{mode})",
        )
    _add_check_command(commands)
    return parser


def _add_choice(
    parser: argparse.ArgumentParser, flag: str, choices: tuple[str, ...], help: str
) -> None:
    """An option that takes one of `choices`, the first by default."""
    parser.add_argument(flag, choices=choices, default=choices[0], help=help)


def _add_program_arguments(parser: argparse.ArgumentParser, shape_help: str) -> None:
    """The program (FILE or -e) and its sizes (--shape, --size), as both commands take them."""
    parser.add_argument("file", nargs="?", metavar="FILE", help="the program (a .tc file)")
    parser.add_argument("-e", dest="expression", metavar="PROGRAM", help="the program text itself")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=2x3", help=shape_help)
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="INDEX=8",
        help="an index size that the inputs do not determine (repeatable)",
    )


def _parse_shape(parser: argparse.ArgumentParser, text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, dims = text.partition("=")
    if not sep or not name.isidentifier():
        parser.error(f"--shape takes NAME=2x3, not {text!r}")
    if dims.strip() in ("", "()"):
        return name, ()
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        parser.error(f"--shape {text!r}: sizes are whole numbers separated by 'x'")
    if any(d < 0 for d in shape):
        parser.error(f"--shape {text!r}: sizes cannot be negative")
    if prod(shape) > LARGEST_ARRAY or max(shape) > LARGEST_ARRAY:
        parser.error(f"--shape {text!r}: no array can have more than 2**59 elements")
    return name, shape


def _parse_size(parser: argparse.ArgumentParser, text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier() or not value.strip().isdigit():
        parser.error(f"--size takes INDEX=8, not {text!r}")
    return name, int(value)


def _read(path: str) -> str:
    """A program file's text; a byte order mark at its start (some editors write one) is not."""
    with open(path, encoding="utf-8-sig") as handle:
        return handle.read()


def _emit(
    program: Program,
    emit: str,
    shapes: dict[str, tuple[int, ...]],
    sizes: dict[str, int],
    backend: str,
) -> str:
    if not shapes and not sizes:
        return program.source if emit == "code" else program.ir + "\n"
    unknown = [name for name in shapes if name not in program.inputs]
    if unknown:
        raise TensorcError(f"--shape names '{unknown[0]}', which is not an input of the program")
    args = _placeholders(program, shapes, sizes, backend)
    if emit == "code":
        return program.source_for(*args, **sizes)
    if emit == "ir":
        return program.ir_for(*args, **sizes) + "\n"
    labels = program.labels()
    lines = []
    for name, shape in program.shapes_for(*args, **sizes).items():
        axes = ", ".join(labels.get(name, ()))
        written = "x".join(map(str, shape)) if shape else "scalar"
        lines.append(f"{name}[{axes}]: {written}" if axes else f"{name}: {written}")
    lines += [f"{index} = {size}" for index, size in program.sizes_for(*args, **sizes).items()]
    return "\n".join(lines) + "\n"


def _placeholders(
    program: Program, shapes: dict[str, tuple[int, ...]], sizes: dict[str, int], backend: str
) -> list[Any]:
    """An array without data for each input: of its --shape, or of the shape that the other
    inputs' shapes and the --size options imply; TensorcError naming what is missing."""
    known = program.known_sizes(shapes, sizes)
    labels = program.labels()
    batch_known = any(ELLIPSIS in labels.get(name, ()) for name in shapes)
    placeholder = backends.backend(backend).placeholder
    return [
        placeholder(
            shapes[name] if name in shapes else _implied(name, labels[name], known, batch_known)
        )
        for name in program.inputs
    ]


def _implied(
    name: str, labels: tuple[str, ...], known: Sizes, batch_known: bool
) -> tuple[int, ...]:
    """An input's shape from the index sizes known; TensorcError for an unknown one."""
    written = f"{name}[{', '.join(labels)}]"
    for label in labels:
        if label == ELLIPSIS and not batch_known:
            raise TensorcError(
                f"the shape of {written} is not given and nothing gives its '...' dimensions: "
                f"add --shape {name}=..."
            )
        missing = [index for index in parts(label) if index not in known.of and label != ELLIPSIS]
        if missing:
            raise TensorcError(
                f"the shape of {written} is not given and nothing gives the size of index "
                f"'{missing[0]}': add --shape {name}=... or --size {missing[0]}=..."
            )
    return known.shape(labels)


# --- tensorc check ---------------------------------------------------------------------------

CHECK_DESCRIPTION = """\
Run a tensorc program on every installed backend ({names}) with random inputs and
compare each output, and for differentiable programs the gradients, with the program run on
NumPy in float64. Indices have size 3 unless --shape or --size says otherwise.

examples:
  tensorc check model.tc
  tensorc check -e "C[i,k] = A[i,j]*B[j,k]" --shape A=2x3 --size k=5
  tensorc check model.tc --backends numpy --dtype float32 --tolerance 1e-4

exit status: 0 when every difference is within the tolerance, 1 when one is not (or a backend
fails, or the program has an error), 2 for bad usage.
"""


def _add_check_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check_ = commands.add_parser(
        "check",
        help="run a program on every backend and compare with the NumPy float64 reference",
        description=CHECK_DESCRIPTION.format(names=", ".join(backends.BACKENDS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check_.set_defaults(check_parser=check_)
    _add_program_arguments(check_, "an input's shape (repeatable)")
    check_.add_argument(
        "--backends",
        type=_backend_list,
        default=None,
        metavar=",".join(backends.BACKENDS),
        help="the backends to check (default: every one; those not installed are skipped)",
    )
    check_.add_argument(
        "--tolerance",
        type=_tolerance,
        default=DEFAULT_TOLERANCE,
        metavar="1e-5",
        help="the largest absolute or relative difference that passes (default: %(default)g)",
    )
    _add_choice(
        check_,
        "--dtype",
        ("float64", "float32"),
        "the precision the backends compute in (default: float64)",
    )
    check_.add_argument("--seed", type=int, default=0, help="of the random inputs (default: 0)")
    check_.add_argument(
        "--positive",
        action="store_true",
        help="tensor inputs from [0.5, 1.5] instead of [-1, 1], for programs with log or sqrt",
    )


def _check(options: argparse.Namespace) -> int:
    """`tensorc check`: prints the report; 0 when every difference is within the tolerance."""
    parser: argparse.ArgumentParser = options.check_parser
    shapes = dict(_parse_shape(parser, text) for text in options.shape)
    sizes = dict(_parse_size(parser, text) for text in options.size)
    if (options.file is None) == (options.expression is None):
        parser.error("give either a program FILE or -e PROGRAM")

    def check_and_print() -> int:
        source = _source(options)
        report = check(
            source,
            shapes,
            sizes,
            options.backends,
            options.seed,
            tolerance=options.tolerance,
            dtype=options.dtype,
            positive=options.positive,
        )
        print(report)
        return 0 if report.ok else 1

    return _reporting_errors(options, check_and_print)


def _backend_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in backends.BACKENDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: name backends from {', '.join(backends.BACKENDS)}, separated by commas"
        )
    return names


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative number")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
