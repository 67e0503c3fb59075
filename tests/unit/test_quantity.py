from decimal import Decimal

import pytest
from kubarr_operator.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1Gi", 2**30),
        ("500Mi", 500 * 2**20),
        ("1G", 10**9),
        ("100m", Decimal("0.1")),
        ("2", 2),
        ("1.5Gi", Decimal("1.5") * 2**30),
        ("1e3", 1000),
    ],
)
def test_quantities_parse_to_exact_values(text, value):
    assert parse_quantity(text) == Decimal(value)


def test_growth_and_shrinkage_compare_across_units():
    assert parse_quantity("2Gi") > parse_quantity("2000Mi")
    assert parse_quantity("1G") < parse_quantity("1Gi")


@pytest.mark.parametrize("text", ["", "Gi", "1Zi", "one"])
def test_bad_quantities_are_refused_with_the_input_named(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)
