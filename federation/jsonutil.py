"""Bounded JSON parsing for untrusted bodies. Pure: no I/O.

    ValueError
    ├── InvalidJSON     not UTF-8, not JSON, or JSON's non-standard NaN/Infinity
    └── JSONTooDeep     arrays and objects nested deeper than allowed

The nesting is measured on the bytes before parsing: the stdlib parser recurses once per
level, so a 100,000-deep `[[[…` would otherwise end in RecursionError (checklist D4).
"""

from __future__ import annotations

import json
import re
from typing import Any


class InvalidJSON(ValueError):
    pass


class JSONTooDeep(ValueError):
    pass


# A JSON string, quotes included: linear, no backtracking (the "unrolled loop" form).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# An innermost container: an opener followed directly by a closer once the rest is gone.
_INNERMOST = re.compile(rb"[\[{][\]}]")


def _nesting(raw: bytes, max_depth: int) -> str:
    """"ok", "deep" or "unbalanced" for the arrays/objects of `raw`, strings not counted.

    Each pass peels one level off every container, all in C: at most `max_depth` passes.
    """
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _level in range(max_depth):
        if not brackets:
            return "ok"
        brackets = _INNERMOST.sub(b"", brackets)
    if not brackets:
        return "ok"
    # Containers left after max_depth peels are deeper; brackets that never pair are malformed.
    return "deep" if _INNERMOST.search(brackets) else "unbalanced"


def _refuse_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON value")


def loads_bounded(raw: bytes, *, max_depth: int = 32) -> Any:
    """Parse UTF-8 JSON `raw`, refusing nesting deeper than `max_depth` before parsing."""
    nesting = _nesting(raw, max_depth)
    if nesting == "deep":
        raise JSONTooDeep(f"The JSON is nested deeper than {max_depth} levels.")
    if nesting == "unbalanced":
        raise InvalidJSON("The body is not valid JSON: its brackets do not balance.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("The body is not UTF-8.") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # a safety net: the scan above already bounds the nesting
        raise JSONTooDeep(f"The JSON is nested deeper than {max_depth} levels.") from None
    except InvalidJSON:
        raise
    except ValueError as error:  # JSONDecodeError, and ints longer than Python converts
        raise InvalidJSON(f"The body is not valid JSON: {error}.") from None
