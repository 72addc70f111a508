"""Request traces (issue 13 item 3, issue 14 item 4): Ramulator 2's and DRAMsim3's formats next
to archsim's; hex only with 0x, decimal otherwise; addresses checked against the device capacity
(before, ``1000`` was read as hex 0x1000 and an address past the end wrapped onto another row)."""
import argparse
import json

import numpy as np
import pytest

from archsim.dram import load_spec, simulate
from archsim.dram.cli import add_commands
from archsim.dram.traces import read_trace
from archsim.errors import ConfigError


def run(argv, capsys):
    parser = argparse.ArgumentParser(prog="archsim")
    add_commands(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    rc = args.func(args)
    return rc, json.loads(capsys.readouterr().out)


def write(tmp_path, body, name="t.trace"):
    f = tmp_path / name
    f.write_text(body)
    return str(f)


def test_the_same_requests_in_three_formats_give_the_same_result(tmp_path, capsys):
    reqs = [(0, 0x0, "R"), (10, 0x1000, "W"), (20, 0x40, "R"), (35, 0x2000, "R")]
    archsim = write(tmp_path, "".join(f"{c} {a:#x} {o}\n" for c, a, o in reqs), "a.trace")
    dramsim3 = write(tmp_path, "".join(f"{a:#x} {'WRITE' if o == 'W' else 'READ'} {c}\n"
                                       for c, a, o in reqs), "d.trace")
    outs = [run(["dram", "hbm2", "--trace", p, "--json"], capsys)[1] for p in (archsim, dramsim3)]
    assert outs[0]["cycles"] == outs[1]["cycles"]
    assert outs[0]["commands"] == outs[1]["commands"]
    # Ramulator 2 LoadStoreTrace has no arrival cycles: compare with archsim's without them
    ram = write(tmp_path, "".join(f"{'ST' if o == 'W' else 'LD'} {a:#x}\n" for _, a, o in reqs),
                "r.trace")
    plain = write(tmp_path, "".join(f"{a:#x} {o}\n" for _, a, o in reqs), "p.trace")
    o1, o2 = (run(["dram", "hbm2", "--trace", p, "--json"], capsys)[1] for p in (ram, plain))
    assert o1["cycles"] == o2["cycles"] and o1["commands"]["WR"] == 1


def test_hex_only_with_0x_decimal_otherwise(tmp_path):
    a, _, _ = read_trace(write(tmp_path, "1000 R\n0x1000 W\nLD 64\n".replace("LD 64\n", "")))
    assert a.tolist() == [1000, 0x1000]
    a, w, _ = read_trace(write(tmp_path, "LD 4096\nST 0x40\n"))
    assert a.tolist() == [4096, 0x40] and w.tolist() == [False, True]
    # DRAMsim3 reads its addresses as hex, with or without 0x
    a, w, c = read_trace(write(tmp_path, "1000 READ 5\n0x40 WRITE 9\n"))
    assert a.tolist() == [0x1000, 0x40] and c.tolist() == [5, 9]


@pytest.mark.parametrize("body,line,words", [
    ("0x0 R\n0x20000000000 R\n", 2, "outside"),           # past 8 GiB of HBM2 (8 GB device)
    ("0x0 R\n0xffffffffffffff00 R\n", 2, "outside"),      # 2^64 - 256
    ("0x0 R\n-0x40 R\n", 2, "bad address"),
    ("0x0 R\n12ab R\n", 2, "bad address"),                 # hex without 0x
    ("0x40 READ 3\n0x80 FETCH 4\n", 2, "DRAMsim3"),       # an operation DRAMsim3 does not know
    ("LD 0x0\nLD\n", 2, "Ramulator 2"),
])
def test_bad_addresses_and_lines_are_errors_with_their_line(tmp_path, capsys, body, line,
                                                            words):
    f = write(tmp_path, body)
    with pytest.raises(ConfigError) as ei:
        run(["dram", "hbm2", "--trace", f], capsys)
    assert ei.value.file == f and ei.value.line == line and words in ei.value.message


def test_simulate_refuses_addresses_past_the_device():
    spec = load_spec("hbm2")
    cap = spec.capacity_bytes
    assert cap == 8 * 2 ** 30   # 8 channels x 2 PCs x 16 banks x 32768 rows x 1 KiB
    simulate(spec, [cap - 32], [False])
    for bad in ([cap], [-32], [2 ** 64 - 256]):
        with pytest.raises(ConfigError, match="outside|64 bits"):
            simulate(spec, np.array(bad, dtype=object), [False])
