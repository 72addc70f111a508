import pytest

from archsim.errors import ConfigError
from archsim.units import parse_quantity, seconds_to_ps


@pytest.mark.parametrize("text, dim, value", [
    ("3.35 TB/s", "bandwidth", 3.35e12),
    ("400 Gb/s", "bandwidth", 50e9),
    ("2039 GB/s", "bandwidth", 2039e9),
    ("1.98 GHz", "frequency", 1.98e9),
    ("225 MHz", "frequency", 225e6),
    ("700 W", "power", 700.0),
    ("96 GiB", "size", 96 * 2**30),
    ("80 GB", "size", 80e9),
    ("11.06 USD/h", "money_rate", 11.06),
    ("3.9 pJ/bit", "energy_per_bit", 3.9e-12),
    ("1 pJ/B", "energy_per_bit", 0.125e-12),
    ("989 TFLOPS", "compute", 989e12),
    ("2 us", "time", 2e-6),
    ("1.5ns", "time", 1.5e-9),
    ("3 years", "time", 3 * 365 * 86400.0),
    ("0.1 USD/kWh", "energy_price", 0.1),
])
def test_parses_units(text, dim, value):
    assert parse_quantity(text, dim) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("value, dim, fragment", [
    ("3.35", "bandwidth", "missing unit"),
    (3.35, "bandwidth", "missing unit"),
    ("3.35 GHz", "bandwidth", "'GHz' is a frequency unit"),
    ("fast", "bandwidth", "cannot read"),
    ("1 parsec", "time", "wrong unit"),
    (True, "power", "expected a power"),
    ([1], "power", "expected a power"),
])
def test_rejects_bad_quantities(value, dim, fragment):
    with pytest.raises(ConfigError) as e:
        parse_quantity(value, dim, key="a.b")
    assert fragment in str(e.value)
    assert str(e.value).startswith("a.b: ")


def test_seconds_to_ps_rounds_up_and_is_exact_for_integers():
    assert seconds_to_ps(2e-6) == 2_000_000
    assert seconds_to_ps(1.01e-12) == 2
    assert seconds_to_ps(3e-9) == 3000
    assert seconds_to_ps(0.0) == 0
