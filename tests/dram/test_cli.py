import argparse
import json

import pytest

from archsim.dram.cli import add_commands
from archsim.errors import ConfigError


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="archsim")
    add_commands(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    rc = args.func(args)
    return rc, capsys.readouterr().out


def test_dram_json_keys(capsys):
    rc, out = run(["dram", "hbm2", "--pattern", "stream", "--requests", "20000", "--json"],
                  capsys)
    assert rc == 0
    d = json.loads(out)
    for k in ("cycles", "bandwidth_gbps", "peak_bandwidth_gbps", "avg_latency_ns",
              "p99_latency_ns", "commands", "energy_pj", "requests_per_s"):
        assert k in d
    assert d["peak_bandwidth_gbps"] == pytest.approx(256.0)
    assert 0.8 * d["peak_bandwidth_gbps"] < d["bandwidth_gbps"] <= d["peak_bandwidth_gbps"]
    assert d["commands"]["RD"] == 20000


def test_dram_random_table(capsys):
    rc, out = run(["dram", "gddr6", "--pattern", "random", "--requests", "5000",
                   "--read-ratio", "0.6", "--seed", "3"], capsys)
    assert rc == 0 and "bandwidth" in out and "requests/s" in out


def test_dram_trace(tmp_path, capsys):
    f = tmp_path / "t.trace"
    f.write_text("# cycle addr op\n0 0x0 R\n10 0x1000 W\n20 0x40 R\n")
    rc, out = run(["dram", "lpddr5", "--trace", str(f), "--json"], capsys)
    d = json.loads(out)
    assert d["commands"]["RD"] == 2 and d["commands"]["WR"] == 1
    f.write_text("0x0 R\n0x100 W\n")
    rc, out = run(["dram", "hbm3", "--trace", str(f), "--json"], capsys)
    assert json.loads(out)["commands"]["WR"] == 1


@pytest.mark.parametrize("body,line", [("0x0 R\nzz R\n", 2), ("0x0 Q\n", 1),
                                       ("5 0x0 R\n3 0x40 R\n", 2), ("0x0 R\n4 0x40 R\n", 2),
                                       ("0x0\n", 1)])
def test_bad_trace_lines(tmp_path, capsys, body, line):
    f = tmp_path / "bad.trace"
    f.write_text(body)
    with pytest.raises(ConfigError) as ei:
        run(["dram", "hbm2", "--trace", str(f)], capsys)
    assert ei.value.file == str(f) and ei.value.line == line


def test_bad_spec_is_config_error(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("extends: hbm2\ntiming:\n  nCL: -1\n")
    with pytest.raises(ConfigError) as ei:
        run(["dram", str(f), "--requests", "10"], capsys)
    assert ei.value.line == 3 and ei.value.key == "timing.nCL"
