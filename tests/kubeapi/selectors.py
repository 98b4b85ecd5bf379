"""Label and field selectors with the API server's syntax and semantics.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated (AND).
Field selectors: `path=v`, `path==v`, `path!=v` over the fields a resource supports (resources.py); any other
field is a 400, as on a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tests.kubeapi.errors import ApiError

Matcher = Callable[[Mapping[str, Any]], bool]

_LABEL_REQ = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<val>[\w.-]*)|\s+(?P<setop>in|notin)\s*\((?P<vals>[^)]*)\))?)"
    r"\s*(?:,|$)"
)


def _requirement(m: re.Match[str]) -> Callable[[Mapping[str, str]], bool]:
    if m["not"]:
        nkey = m["nkey"]
        return lambda labels: nkey not in labels
    key, op, val = m["key"], m["op"], m["val"]
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == val
    if op == "!=":
        return lambda labels: labels.get(key) != val
    if m["setop"]:
        values = frozenset(v.strip() for v in m["vals"].split(",") if v.strip())
        if m["setop"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: key in labels


def label_selector(text: str | None) -> Matcher:
    if not text or not text.strip():
        return lambda obj: True
    requirements = []
    pos = 0
    while pos < len(text):
        m = _LABEL_REQ.match(text, pos)
        if m is None or m.end() == pos:
            raise ApiError.bad_request(f"unable to parse requirement: invalid label selector {text!r}")
        requirements.append(_requirement(m))
        pos = m.end()

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in requirements)

    return matches


def field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_selector(text: str | None, supported: frozenset[str]) -> Matcher:
    if not text or not text.strip():
        return lambda obj: True
    terms: list[tuple[str, bool, str]] = []
    for term in text.split(","):
        m = re.fullmatch(r"\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*", term)
        if m is None:
            raise ApiError.bad_request(f"invalid field selector {text!r}")
        path, op, value = m.groups()
        if path not in supported:
            raise ApiError.bad_request(f'field label not supported: "{path}"')
        terms.append((path, op != "!=", value))
    return lambda obj: all((field_value(obj, path) == value) == equal for path, equal, value in terms)
