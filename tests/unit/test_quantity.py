from fractions import Fraction

import pytest

from luna_autoscaler.errors import QuantityError
from luna_autoscaler.models.quantity import cpu_millis, integer_units, parse_quantity, whole_units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Fraction(1)),
        ("0.1", Fraction(1, 10)),
        ("100m", Fraction(1, 10)),
        ("1500u", Fraction(3, 2000)),
        ("250n", Fraction(1, 4_000_000)),
        ("2k", Fraction(2000)),
        ("1M", Fraction(10**6)),
        ("3G", Fraction(3 * 10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("128974848", Fraction(128974848)),
        ("129e6", Fraction(129 * 10**6)),
        ("1E3", Fraction(1000)),
        ("12e-3", Fraction(12, 1000)),
        ("123Mi", Fraction(123 * 2**20)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        (".5", Fraction(1, 2)),
        ("+2", Fraction(2)),
        (2, Fraction(2)),
        (0.5, Fraction(1, 2)),
    ],
)
def test_parses_every_suffix_exactly(text: str | int | float, expected: Fraction) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "abc", "1Gb", "1.2.3", "Mi", "1 Mi x", "--1", "1e", "1Ki5", True, None, float("nan")]
)
def test_rejects_non_quantities_naming_the_value(bad: object) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)


def test_cpu_rounds_up_to_millis_like_the_api_server() -> None:
    assert cpu_millis("0.1") == 100
    assert cpu_millis("100m") == 100
    assert cpu_millis("0.0001") == 1
    assert cpu_millis("2") == 2000
    assert cpu_millis("1500u") == 2


def test_bytes_round_up_and_extended_must_be_whole() -> None:
    assert whole_units("1.5") == 2
    assert whole_units("1Gi") == 2**30
    assert integer_units("4", resource="nvidia.com/gpu") == 4
    with pytest.raises(QuantityError, match=r"nvidia.com/gpu.*not a whole number"):
        integer_units("500m", resource="nvidia.com/gpu")


def test_huge_exponents_are_refused() -> None:
    with pytest.raises(QuantityError, match="exponent"):
        parse_quantity("1e999")
