"""Bounded JSON parsing for untrusted bodies. Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any


class InvalidJSON(ValueError):
    pass


class JSONTooDeep(ValueError):
    pass


def nesting_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects, counted on the bytes (strings skipped).

    Scanning first means a 100,000-deep `[[[…` is refused without recursing into it.
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def loads_bounded(raw: bytes, *, max_depth: int = 32) -> Any:
    if nesting_depth(raw) > max_depth:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidJSON(f"body is not valid JSON: {error}") from None
