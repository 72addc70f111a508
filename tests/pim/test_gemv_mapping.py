"""A GEMV's layout as data (issue 13 item 4): result registers read back to back, results
accumulated across DRAM rows, and the reduction split over channels, in the ``mapping`` section
of a PIM config. Every count below is derived by hand from the layout.

The layout on one GDDR6-AiM channel (16 banks, one unit each, 32 B accesses, bf16, 2 KB rows and
global buffer): 100 x 2500 is 7 row groups of 16 units and segments of 1024, 1024 and 452
elements, i.e. 64, 64 and 29 MACABs (452 / 16 rounded up) and as many WRGB accesses (2 B each,
32 B per access); reading one result register of the 16 units is one RDMAC (16 x 2 B)."""
import numpy as np
import pytest

from archsim.dram.checker import check_log
from archsim.errors import ConfigError
from archsim.pim import load_pim, simulate_gemv
from archsim.pim.gemv import gemv_command_log, gemv_layout, gemv_stream

ROWS, COLS, GROUPS, MACS = 100, 2500, 7, (64, 64, 29)


def aim(write, name="p.yaml", **mapping):
    body = "".join(f"  {k}: {str(v).lower() if isinstance(v, bool) else v}\n"
                   for k, v in mapping.items())
    return load_pim(write(name, f"extends: gddr6-aim\nmapping:\n  source: test\n{body}"))


def counts(pim, rows=ROWS, cols=COLS, channels=1):
    res = simulate_gemv(pim, rows, cols, channels=channels, memo=False)
    return {k: v for k, v in res.commands.items() if k != "REFab"}, res


def test_the_default_reads_every_segment_of_every_group_before_its_precharge(write):
    c, _ = counts(aim(write))
    assert c == {"WRGB": sum(MACS), "ACTAB": GROUPS * 3, "MACAB": GROUPS * sum(MACS),
                 "RDMAC": GROUPS * 3, "PREA": GROUPS * 3}
    assert c == counts(load_pim("gddr6-aim"))[0]      # no mapping section: the same stream


def test_result_registers_read_a_batch_back_to_back_and_save_the_waits(write):
    pim = aim(write, result_registers=3)
    c, res = counts(pim)
    assert c == counts(aim(write, "q.yaml"))[0]       # same commands, other order
    _rdmac, ((rows, macs, wrgb),) = gemv_layout(pim, ROWS, COLS, "bf16", 1)
    cmd = gemv_stream(pim, rows, macs, wrgb, 1)[0]
    names = [pim.command_set.names[i] for i in cmd]
    first = names[64:]                                 # after the first segment's WRGB
    block = ["ACTAB"] + ["MACAB"] * 64
    batch = block + ["PREA"] + block + ["PREA"] + block + ["RDMAC"] * 3 + ["PREA"]
    assert first[:len(batch)] == batch
    # one nMAC_RD (25 ns) wait per batch of 3 instead of per group: faster
    assert res.cycles < counts(aim(write, "q.yaml"))[1].cycles


def test_accumulating_across_rows_reads_each_output_once(write):
    """Batch-major: batches of 3, 3 and 1 groups take segments 0, 1, 2 (buffer writes 64 + 64 +
    29), then 2, 1, 0 (the buffer holds 2: 64 + 64), then 0, 1, 2 (it holds 0: 64 + 29)."""
    c, _ = counts(aim(write, result_registers=3, accumulate_across_rows=True))
    assert c == {"WRGB": 157 + 128 + 93, "ACTAB": GROUPS * 3, "MACAB": GROUPS * sum(MACS),
                 "RDMAC": GROUPS, "PREA": GROUPS * 3}
    c, _ = counts(aim(write, "q.yaml", result_registers=8, accumulate_across_rows=True))
    assert c["WRGB"] == sum(MACS) and c["RDMAC"] == GROUPS      # one batch holds every group


def test_one_segment_needs_one_buffer_write_with_accumulation(write):
    c, _ = counts(aim(write, accumulate_across_rows=True), cols=1000)
    assert c["WRGB"] == 63 and c["RDMAC"] == GROUPS and c["ACTAB"] == GROUPS  # 1000 / 16 -> 63


def test_the_reduction_split_over_two_channels(write):
    """157 accesses of 16 elements: 79 (1264 elements: 1024 + 240) to channel 0, 78 (1236:
    1024 + 212) to channel 1; each channel all 100 rows (7 groups)."""
    pim = aim(write, gemv_split="cols")
    _r, shares = gemv_layout(pim, ROWS, COLS, "bf16", 2)
    assert shares == [(100, (64, 15), (64, 15)), (100, (64, 14), (64, 14))]
    c, _ = counts(pim, channels=2)
    assert c == {"WRGB": 157, "ACTAB": 2 * GROUPS * 2, "MACAB": GROUPS * 157,
                 "RDMAC": 2 * GROUPS * 2, "PREA": 2 * GROUPS * 2}


@pytest.mark.parametrize("mapping", [dict(result_registers=3),
                                     dict(result_registers=3, accumulate_across_rows=True),
                                     dict(gemv_split="cols", accumulate_across_rows=True)])
def test_the_new_streams_pass_the_checker(write, mapping):
    pim = aim(write, **mapping)
    log = gemv_command_log(pim, ROWS, COLS, channels=2)
    assert check_log(pim, log) == []
    names = np.array(pim.command_set.names)[log.command]
    # rows over channels: 50 rows (4 groups) each; the reduction split: 7 groups each
    groups = GROUPS if "gemv_split" in mapping else 2 * 4
    assert int((names == "MACAB").sum()) == groups * sum(MACS)


@pytest.mark.parametrize("line, key", [("result_registers: 0", "mapping.result_registers"),
                                       ("gemv_split: diagonal", "mapping.gemv_split"),
                                       ("accumulate_across_rows: maybe",
                                        "mapping.accumulate_across_rows")])
def test_a_bad_mapping_key_is_a_file_line_key_error(write, capsys, line, key):
    from archsim.cli import main
    p = write("p.yaml", f"extends: gddr6-aim\nmapping:\n  source: x\n  {line}\n")
    with pytest.raises(ConfigError):
        load_pim(p)
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"archsim: error: {p}:4: {key}:") and "\n" not in err


def test_a_pim_config_with_an_organization_override_and_a_mapping_checks_as_a_pim_config():
    from pathlib import Path

    import archsim
    from archsim.cli import check_file
    path = Path(archsim.__file__).parent / "presets" / "pim" / "pim_gpt_gddr6.yaml"
    assert check_file(path).startswith("PIM config 'PIM-GPT GDDR6-PIM'")


def test_the_attention_context_can_split_its_tokens_over_the_channels(write):
    """PIM-GPT's context GEMV V^T p (64 head dimensions x 1024 tokens) on 8 channels. Rows over
    channels: 8 rows per channel fill half of one 16-unit group, and every channel needs the
    whole probability vector: 8 x 64 WRGB, 8 x 64 MACAB. Tokens over channels
    (context_split: cols): 128 tokens (8 accesses) per channel, 64 rows = 4 groups:
    8 x 8 WRGB, 8 x 4 x 8 MACAB."""
    from archsim.pim.gemv import gemv_split
    pim = load_pim(write("p.yaml", "extends: pim_gpt_gddr6\nmapping:\n  source: test\n"
                         "  context_split: cols\n"))
    assert gemv_split(pim) == "rows" and gemv_split(pim, context=True) == "cols"
    rows = simulate_gemv(pim, 64, 1024, memo=False).commands
    cols = simulate_gemv(pim, 64, 1024, memo=False, split="cols").commands
    assert (rows["WRGB"], rows["MACAB"], rows["ACTAB"]) == (8 * 64, 8 * 64, 8)
    assert (cols["WRGB"], cols["MACAB"], cols["ACTAB"]) == (8 * 8, 8 * 4 * 8, 8 * 4)


def test_concatenated_scores_read_the_heads_of_a_row_back_to_back(write):
    """16 heads of 64 share a 2 KB row (4 MACABs each). One register: each head's RDMAC waits
    nMAC_RD after its MACABs. 16 registers: the 16 heads' 64 MACABs, then 16 RDMACs. Same
    counts, fewer cycles; the log passes the checker."""
    from archsim.pim.attention import (head_layout, head_stream, scores_concat_command_log,
                                       simulate_scores_concat)
    one, many = aim(write), aim(write, "q.yaml", result_registers=16)
    lay = head_layout(many, 256, 64, 16, 1, "bf16", 2)
    names = [many.command_set.names[i] for i in head_stream(many, lay, 128, "bf16")[0]]
    row = names[names.index("ACTAB"):names.index("PREA") + 1]
    assert row == ["ACTAB"] + ["MACAB"] * 64 + ["RDMAC"] * 16 + ["PREA"]
    a = simulate_scores_concat(one, 256, 64, 16, memo=False)
    b = simulate_scores_concat(many, 256, 64, 16, memo=False)
    def drop(c):      # fewer cycles, fewer refreshes
        return {k: v for k, v in c.items() if k != "REFab"}
    assert drop(a.commands) == drop(b.commands) and b.cycles < a.cycles
    assert check_log(many, scores_concat_command_log(many, 256, 64, 16)) == []
