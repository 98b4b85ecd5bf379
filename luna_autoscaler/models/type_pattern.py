"""Regular expressions over instance type names, matched in time linear in the name, whatever the pattern.

Users write these patterns (the `node.elotl.co/instance-type-regexp` annotation, `binPackingNodeTypeRegexp`,
`gpuTimeSlicing[].instanceTypeRegexp`), and each is matched against every type in the catalog (about 25,000 with
`plan --cloud all`). Python's backtracking `re` takes exponential time on patterns such as `^([-\\w.]+)+!$`, so
one pod's annotation could stall the daemon's cycle for good. RE2 guarantees linear-time matching and bounded
memory by leaving out the two features that need backtracking (backreferences like `\\1` and lookaround like
`(?=...)`); a pattern using them is rejected with a message that says so. Everything else Luna users write
(anchors, classes, alternation, repetition) means the same as in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import re2

MAX_PATTERN_LENGTH = 4096
"""Longer patterns are rejected before compiling: no honest instance type filter needs more."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would otherwise print every syntax error on stderr


@dataclass(frozen=True, slots=True)
class TypePattern:
    """A compiled pattern; `search` finds it anywhere in a name, as Python's `re.search` does."""

    pattern: str
    _compiled: re2._Regexp[str] = field(repr=False, compare=False)

    def search(self, name: str) -> bool:
        return self._compiled.search(name) is not None


@lru_cache(maxsize=256)
def type_pattern(text: str) -> TypePattern:
    """Compile `text`; raise ValueError naming what is wrong (the same patterns come back every cycle: cached)."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re2.compile(text, options=_OPTIONS)
    except re2.error as e:
        why = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ValueError(f"invalid regular expression: {why} (RE2 syntax: no backreferences or lookaround)") from None
    return TypePattern(text, compiled)
