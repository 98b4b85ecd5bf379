"""Words for people in the CLI's tables: counts with the right plural ("1 node", "2 nodes"), said one way
everywhere."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`counted(1, "node")` → `1 node`; `counted(3, "pod")` → `3 pods`; irregular plurals given as `plural`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
