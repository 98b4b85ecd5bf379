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

from luna_autoscaler.errors import QuantityError, shown

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
    r"^(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?$"
)  # ASCII digits only: Python's \d would read Arabic-Indic "١٢" as 12, which the API server rejects
MAX_TEXT_LENGTH = 64
"""No quantity the API server stores is longer (int64 digits, a fraction, a suffix)."""
MAX_UNITS = 2**63 - 1
"""The API server keeps quantities as int64 (milli-units for CPU): anything larger is a typo, such as `1e30`."""


def parse_quantity(value: object) -> Fraction:
    """Return the exact value of a Kubernetes quantity; raise QuantityError naming the value if it is not one.

    Numbers (from YAML `cpu: 2` or `cpu: 0.5`) are accepted as the API server accepts them.
    """
    if isinstance(value, bool):
        raise QuantityError(f"{shown(value)} is not a quantity")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{shown(value)} is not a quantity")
        return Fraction(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"{shown(value)} is not a quantity (expected a string or a number)")
    text = value.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise QuantityError(f"{shown(text)} is not a quantity (too long)")
    match = _QUANTITY.match(text)
    if match is None:
        raise QuantityError(
            f"{shown(value)} is not a Kubernetes quantity "
            "(expected a number with an optional suffix: n u m k M G T P E Ki Mi Gi Ti Pi Ei, or an exponent e3)"
        )
    number = Fraction(match["number"])
    if match["exponent"] is not None:
        exponent = int(match["exponent"])
        if abs(exponent) > 30:
            raise QuantityError(f"{shown(value)}: exponent {exponent} is out of range")
        return number * Fraction(10) ** exponent
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    return number * _DECIMAL[suffix]


def _amount(value: object, units: int) -> int:
    """A resource amount in `units` per 1, rounded up as the API server does; never negative or beyond int64."""
    quantity = parse_quantity(value)
    if quantity < 0:
        raise QuantityError(f"{shown(value)} is negative (a resource amount cannot be)")
    amount = math.ceil(quantity * units)
    if amount > MAX_UNITS:
        unit = "millicores" if units == 1000 else "units"
        raise QuantityError(f"{shown(value)} is too large (at most {MAX_UNITS} {unit})")
    return amount


def cpu_millis(value: object) -> int:
    """CPU in millicores, rounded up as the API server does (`0.0001` → 1m)."""
    return _amount(value, 1000)


def whole_units(value: object) -> int:
    """Bytes, GPUs, pods: a whole number, rounded up (`1.5` bytes → 2)."""
    return _amount(value, 1)


def integer_units(value: object, *, resource: str) -> int:
    """Extended resources (GPUs, Neuron cores) must be whole numbers; the API server rejects `500m` GPUs."""
    amount = _amount(value, 1)
    if parse_quantity(value).denominator != 1:
        raise QuantityError(
            f"{resource}: {shown(value)} is not a whole number (extended resources cannot be fractional)"
        )
    return amount


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
