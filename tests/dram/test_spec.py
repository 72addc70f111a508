import math
import textwrap

import pytest

from archsim.dram.spec import TimingValue, list_specs, load_spec
from archsim.errors import ConfigError


def test_presets_load_and_cover_the_standards():
    names = list_specs()
    for n in ("hbm2", "hbm3", "gddr6", "lpddr5"):
        assert n in names
    for n in names:
        s = load_spec(n)
        assert s.config.source and s.org.source and s.config.timing.source and \
            s.config.power.source
        assert s.peak_bandwidth_bytes_per_s > 0


def test_peak_bandwidths_match_the_interface_arithmetic():
    # HBM2 2 Gb/s x 1024 bits = 256 GB/s; HBM3 6.4 Gb/s x 1024 = 819.2 GB/s;
    # GDDR6 14 Gb/s x 32 = 56 GB/s; LPDDR5 6400 x 64 bits = 51.2 GB/s
    for name, gbps in (("hbm2", 256.0), ("hbm3", 819.2), ("gddr6", 56.14), ("lpddr5", 51.2)):
        assert load_spec(name).peak_bandwidth_bytes_per_s / 1e9 == pytest.approx(gbps, rel=1e-3)


def test_ns_timings_round_up_with_ceil_not_nearest():
    assert TimingValue(seconds=3.9e-6).to_cycles(0.769e-9) == math.ceil(3.9e-6 / 0.769e-9)
    assert TimingValue(seconds=14e-9).to_cycles(1e-9) == 14   # exact: no extra cycle from float
    assert TimingValue(seconds=14.1e-9).to_cycles(1e-9) == 15  # never round to nearest
    assert TimingValue(seconds=10.56e-9).to_cycles(0.57e-9) == 19  # 18.53 -> 19
    s = load_spec("hbm3")
    assert s.timings["nRFC"] == 560  # 350 ns / 0.625 ns


def _write(tmp_path, text):
    p = tmp_path / "spec.yaml"
    p.write_text(textwrap.dedent(text))
    return p


BASE = """\
    extends: hbm2
    name: test
    timing:
      {line}
"""


@pytest.mark.parametrize("line,key,words", [
    ("nCLX: 14", "timing.nCLX", "unknown key"),
    ('nRFC: "260 MHz"', "timing.nRFC", "wrong unit"),
    ("nRCD: -3", "timing.nRCD", "negative"),
    ('nRP: "-14 ns"', "timing.nRP", "negative"),
    ("nCL: 14.5", "timing.nCL", "non-integer"),
    ('nRAS: "34"', "timing.nRAS", "missing unit"),
])
def test_bad_timing_values_name_file_line_and_key(tmp_path, line, key, words):
    p = _write(tmp_path, BASE.format(line=line))
    with pytest.raises(ConfigError) as ei:
        load_spec(str(p))
    e = ei.value
    assert e.file == str(p) and e.line == 4 and e.key == key
    assert words in e.message


def test_missing_key_is_reported(tmp_path):
    p = _write(tmp_path, """\
        name: x
        standard: HBM2
        source: s
        organization: {source: s, channels: 1, bank_groups: 4, banks_per_group: 4, rows: 1024,
                       row_size: "1 KiB", bus_width_bits: 64, burst_length: 4}
        timing: {source: s, tCK: "1 ns", nBL: 2}
        power: {source: s, vdd_v: 1.2, idd0_ma: 1, idd2n_ma: 1, idd3n_ma: 1, idd4r_ma: 1,
                idd4w_ma: 1, idd5ab_ma: 1, io_energy: "1 pJ/bit"}
    """)
    with pytest.raises(ConfigError) as ei:
        load_spec(str(p))
    assert "missing required key 'nCL'" in str(ei.value)
    assert ei.value.key == "timing" and ei.value.line == 6


def test_inconsistent_values_and_bad_mapping(tmp_path):
    p = _write(tmp_path, BASE.format(line="nRC: 10"))
    with pytest.raises(ConfigError, match="nRC"):
        load_spec(str(p))
    p = _write(tmp_path, "extends: hbm2\ncontroller:\n  mapping: RoCoBaBgRaPc\n")
    with pytest.raises(ConfigError, match="missing token") as ei:
        load_spec(str(p))
    assert ei.value.key == "controller.mapping"
    with pytest.raises(ConfigError, match="unknown DRAM spec"):
        load_spec("hbm9")


def test_extends_overrides_and_spec_is_frozen(tmp_path):
    p = _write(tmp_path, "extends: hbm2\nname: slow\ntiming:\n  nCL: 20\n")
    s = load_spec(str(p))
    assert s.timings["nCL"] == 20 and s.timings["nRCD"] == 14
    with pytest.raises(Exception):
        s.config.name = "y"
