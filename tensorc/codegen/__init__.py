"""Code generation: optimised IR to one readable Python module, in four parts.

- `facts`: what is known about the program's values before a line is written;
- `emitter`: the function's body, each IR node written by the method named after its class;
- `dialect`: `Generator`, the text of each array operation, which each backend subclasses;
- `page`: the module around the body (names, imports, helpers, header, signature),
  with `sizes`: static or symbolic text for sizes and shapes.
"""

from __future__ import annotations

from tensorc.codegen.code import ATOM, PRODUCT, UNARY, Code, comment
from tensorc.codegen.dialect import Generator
from tensorc.codegen.emitter import INLINE_LIMIT
from tensorc.codegen.page import FUNCTION_NAME, Names

__all__ = [
    "ATOM",
    "FUNCTION_NAME",
    "INLINE_LIMIT",
    "PRODUCT",
    "UNARY",
    "Code",
    "Generator",
    "Names",
    "comment",
]
