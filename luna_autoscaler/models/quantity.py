"""Kubernetes resource quantities, parsed exactly once at the boundary.

The API server accepts `100m`, `1.5Gi`, `2e3`, `128974848` and friends; everything inside the product works on
integers with the unit in the name (`cpu_millis`, `memory_bytes`). Parsing goes through `Fraction` so that no
binary floating point rounding ever turns `0.1` CPU into 99 millicores. Rounding up follows the API server,
which rounds a quantity up to the precision it is asked for (`MilliValue`, `Value`).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from luna_autoscaler.errors import QuantityError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exponent>[+-]?\d+))?$"
)


def parse_quantity(value: str | int | float) -> Fraction:
    """Return the exact value of a Kubernetes quantity; raise QuantityError naming the value if it is not one.

    Numbers (from YAML `cpu: 2` or `cpu: 0.5`) are accepted as the API server accepts them.
    """
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a quantity")
        return Fraction(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a quantity (expected a string or a number)")
    text = value.strip()
    match = _QUANTITY.match(text)
    if match is None:
        raise QuantityError(
            f"{value!r} is not a Kubernetes quantity "
            "(expected a number with an optional suffix: n u m k M G T P E Ki Mi Gi Ti Pi Ei, or an exponent e3)"
        )
    number = Fraction(match["number"])
    if match["exponent"] is not None:
        exponent = int(match["exponent"])
        if abs(exponent) > 30:
            raise QuantityError(f"{value!r}: exponent {exponent} is out of range")
        return number * Fraction(10) ** exponent
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def cpu_millis(value: str | int | float) -> int:
    """CPU in millicores, rounded up as the API server does (`0.0001` → 1m)."""
    return math.ceil(parse_quantity(value) * 1000)


def whole_units(value: str | int | float) -> int:
    """Bytes, GPUs, pods: a whole number, rounded up (`1.5` bytes → 2)."""
    return math.ceil(parse_quantity(value))


def integer_units(value: str | int | float, *, resource: str) -> int:
    """Extended resources (GPUs, Neuron cores) must be whole numbers; the API server rejects `500m` GPUs."""
    quantity = parse_quantity(value)
    if quantity.denominator != 1:
        raise QuantityError(f"{resource}: {value!r} is not a whole number (extended resources cannot be fractional)")
    return int(quantity)


def format_memory(memory_bytes: int) -> str:
    """A short human form for tables, one unit per magnitude so that a column reads evenly (never `203234Mi`
    next to `202.2Gi`): the largest binary unit not above the value, whole or with one decimal (`198.5Gi`)."""
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if memory_bytes >= size or (suffix == "Mi" and memory_bytes >= 2**10):
            value = memory_bytes / size
            return f"{value:.0f}{suffix}" if memory_bytes % size == 0 else f"{value:.1f}{suffix}"
    return str(memory_bytes)


def format_cpu(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"
