"""`tensorc compile`: print the generated module, the optimised IR, or every shape."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tensorc import backends
from tensorc.autodiff import grad
from tensorc.check import DEFAULT_TOLERANCE, check
from tensorc.errors import TensorcError
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
        source = _source(options)
        passes = () if options.passes == "none" else PASSES
        if options.grad:
            wrt = tuple(name for text in options.grad for name in text.split(",") if name)
            program = grad(source, wrt, options.backend, passes=passes).program
        else:
            program = compile_program(source, options.backend, passes)
        backend = options.backend or backends.DEFAULT
        print(_emit(program, options.emit, shapes, sizes, backend), end="")
        return 0

    return _reporting_errors(options, compile_and_print)


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
    compile_.add_argument("file", nargs="?", metavar="FILE", help="the program (a .tc file)")
    compile_.add_argument(
        "-e", dest="expression", metavar="PROGRAM", help="the program text itself"
    )
    compile_.add_argument(
        "--backend", choices=names, default=None, help=f"default: {backends.DEFAULT}"
    )
    compile_.add_argument(
        "--emit",
        choices=("code", "ir", "shapes"),
        default="code",
        help="what to print: the generated module (default), the optimised IR, or every shape",
    )
    compile_.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=2x3",
        help="an input's shape (repeatable); specialises code and IR to these sizes",
    )
    compile_.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="INDEX=8",
        help="an index size that the inputs do not determine (repeatable)",
    )
    compile_.add_argument(
        "--passes",
        choices=("all", "none"),
        default="all",
        help="'none' shows the program before the optimising passes",
    )
    compile_.add_argument(
        "--grad",
        action="append",
        default=[],
        metavar="X[,Y]",
        help="compile the gradient of the (scalar) result with respect to these inputs instead",
    )
    _add_check_command(commands)
    return parser


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
    return name, shape


def _parse_size(parser: argparse.ArgumentParser, text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier() or not value.strip().isdigit():
        parser.error(f"--size takes INDEX=8, not {text!r}")
    return name, int(value)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
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
    placeholder = backends.backend(backend).placeholder
    args = [placeholder(shapes.get(name, ())) for name in program.inputs]
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
    check_.add_argument("file", nargs="?", metavar="FILE", help="the program (a .tc file)")
    check_.add_argument("-e", dest="expression", metavar="PROGRAM", help="the program text itself")
    check_.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=2x3",
        help="an input's shape (repeatable)",
    )
    check_.add_argument(
        "--size", action="append", default=[], metavar="INDEX=8", help="an index size (repeatable)"
    )
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
    check_.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="the precision the backends compute in (default: float64)",
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
