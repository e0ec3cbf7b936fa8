"""Source text to AST: the Lark parser for programs and for einsum subscripts."""

from tensorc.frontend.einsum import parse_einsum
from tensorc.frontend.parser import parse_program

__all__ = ["parse_einsum", "parse_program"]
