"""Head-per-channel attention with tokens packed per DRAM row (AttAcc layout, issue 13 item 4):
command counts follow from the layout by hand, heads run in parallel on their channels, and the
query of a head is written only to the channel that holds it."""
import pytest

from archsim.dram.checker import check_log
from archsim.errors import ConfigError
from archsim.pim import simulate_gemv
from archsim.pim.attention_step import attention_step
from archsim.pim.head_per_channel import (packed_layout, scores_packed_command_log,
                                          simulate_scores_packed)
from archsim.pim.mapping import attention_mapping
from archsim.pim.spec import load_pim


@pytest.fixture(scope="module")
def pim(tmp_path_factory):
    """AttAcc's HBM3-PIM seen as 32 pseudo-channels of one stack ID each: 32 channels x 16 bank
    units, 1 KB rows, 32 B accesses (the shipped preset has 2 stack IDs and a channel-wide
    all-bank scope: 16 streams x 64 units, tested below)."""
    f = tmp_path_factory.mktemp("pim") / "one_sid.yaml"
    f.write_text("extends: hbm3-attacc\norganization: {source: test, ranks: 1, rows: 32768}\n"
                 "mapping: {source: test, allbank_scope: pseudo_channel}\n")
    return load_pim(f)


def _expected_scores(H, d, L, C=32, U=16, row_bytes=1024, access=32):
    """By hand: a token's key takes d x 2 B padded to 32 B accesses; a 1 KB row holds
    row // slot tokens of one head; one ACTAB opens 16 rows; one RDMAC (16 x 2 B results) per
    token slot; the query (slot bytes) written once per head, to its channel only."""
    slot_b = -(-d * 2 // access) * access
    tpr = row_bytes // slot_b
    acts = -(-L // (U * tpr))
    last = -(-(L - (acts - 1) * U * tpr) // U)
    slots = (acts - 1) * tpr + last
    return {"ACTAB": H * acts, "PREA": H * acts, "MACAB": H * slots * slot_b // access,
            "RDMAC": H * slots, "WRGB": H * slot_b // access}


def test_attacc_shape_packs_four_tokens_and_32_macs_per_activation(pim):
    lay = packed_layout(pim, 96, 128, "fp16", 32)
    assert lay.tokens_per_row == 4 and lay.tokens_per_row * lay.macs_per_token == 32
    assert lay.heads_per_ch == (3,) * 32


@pytest.mark.parametrize("H,d,L", [(96, 128, 2048), (96, 128, 2049), (40, 128, 1000),
                                   (7, 64, 300), (33, 80, 129)])
def test_score_counts_follow_the_layout_and_log_passes_checker(pim, H, d, L):
    res = simulate_scores_packed(pim, H, d, L)
    exp = _expected_scores(H, d, L)
    assert {k: res.commands.get(k, 0) for k in exp} == exp
    assert res.macs == H * L * d
    if H * L <= 96 * 300:
        log = scores_packed_command_log(pim, H, d, L)
        assert check_log(pim, log) == []
        names = [pim.command_set.names[c] for c in log.command]
        assert {k: names.count(k) for k in set(names)} == res.commands


def test_heads_on_different_channels_run_in_parallel(pim):
    one = simulate_scores_packed(pim, 1, 128, 1024)
    full = simulate_scores_packed(pim, 32, 128, 1024)        # one head in each channel
    two = simulate_scores_packed(pim, 64, 128, 1024)         # two heads per channel
    assert full.cycles == one.cycles
    assert "REFab" not in one.commands and two.commands["REFab"] == 32   # one per channel
    t = pim.dram.timings      # the refresh costs nRFC, plus closing the open row first
    assert 2 * one.cycles < two.cycles <= 2 * one.cycles + t["nRFC"] + t["nRC"]


def test_step_fewer_commands_than_per_head_and_context_on_one_channel(pim):
    H, d, L = 96, 128, 2048
    hpc = attention_step(pim, H, d, L, mapping="head_per_channel")
    ph = attention_step(pim, H, d, L)
    assert hpc["mapping"] == "head_per_channel"
    # per_head: 8 MACs per activation (256 B of a 1 KB row) and every query to every channel
    assert ph["scores"]["commands"]["ACTAB"] == 4 * hpc["scores"]["commands"]["ACTAB"]
    assert ph["scores"]["commands"]["WRGB"] == 32 * hpc["scores"]["commands"]["WRGB"]
    c1 = simulate_gemv(pim, d, L, channels=1)
    assert hpc["context"]["cycles"] == 3 * c1.cycles
    assert hpc["context"]["commands"]["WRGB"] == H * c1.commands["WRGB"]
    assert hpc["cycles"] < ph["cycles"]


def test_unsupported_layouts_and_devices_are_errors(pim):
    with pytest.raises(ConfigError, match="does not fit a unit row"):
        simulate_scores_packed(pim, 4, 1024, 64)
    with pytest.raises(ConfigError, match="per_head mapping only"):
        attention_step(pim, 4, 128, 64, mapping="head_per_channel", channels=4)
    assert not attention_mapping("head_per_channel").device_model


def test_a_pim_device_refuses_head_per_channel(write):
    """The PIM device model charges per-head context GEMVs, so a design point asking it for
    head_per_channel is an error, not a run with a different context layout."""
    from archsim.hardware import load_hardware
    p = write("hw.yaml", "name: x\ndevices:\n  pim: {extends: pim_gpt_dram, "
              "attention_mapping: head_per_channel}\n")
    with pytest.raises(ConfigError, match="pim-attention. only"):
        load_hardware(p)


def _attacc_score_counts(heads, L, d=128):
    """AttAcc's own score commands per head, derived by hand from its documented bank-level
    mapping (scale-snu/attacc_simulator, trace_gen for attacc_bank; see docs/attacc.md): one
    head per legacy channel; an all-bank MAC covers 2 pCH x 2 ranks x 4 BG x 4 banks = 64 banks;
    the head dim is split over the 4 banks of a bank group (32 elements = 2 accesses each) and
    tokens over the 16 (pCH, rank, BG) units: 2 MACs per 16 tokens; the query is 8 WRGBs."""
    return {"MACAB": heads * 2 * -(-L // 16), "WRGB": heads * 4 * -(-d // (4 * 16))}


#: AttAcc's own results for 130 heads x 128, fp16, bank-level PIM: L -> (MAC, MV_SB, WR_GB)
#: commands (scale-snu/attacc_simulator, ramulator.out at commit c600051, columns mac, mvsb, wrgb)
ATTACC_PUBLISHED = {2048: (66576, 10400, 1040), 2064: (67096, 11440, 1032),
                    4096: (133136, 18720, 1040)}


@pytest.mark.parametrize("L", sorted(ATTACC_PUBLISHED))
def test_hand_derived_attacc_counts_match_its_published_results(L):
    mac, mvsb, _wrgb = ATTACC_PUBLISHED[L]
    steps = -(-L // 16)
    scores = _attacc_score_counts(130, L)["MACAB"]
    assert mac == scores + 130 * 2 * steps + 16      # + context MACs + 16 "dummy" MACs
    assert mvsb == 130 * (8 * -(-steps // 16) + 16)


@pytest.mark.parametrize("L", [2048, 2064, 3072, 4096])
def test_attacc_shape_same_bank_reads_and_query_writes_as_attacc(pim, L):
    """GPT-3 175B attention scores, 130 heads: a 16-bank all-bank MAC (one pseudo-channel, one
    stack ID) reads the same bank columns as AttAcc's 64-bank one (4x the commands); on the
    shipped preset (2 stack IDs, channel-wide scope) the MACAB count is AttAcc's own."""
    res = simulate_scores_packed(pim, 130, 128, L)
    ref = _attacc_score_counts(130, L)
    assert res.commands["MACAB"] * 16 == ref["MACAB"] * 64
    assert res.commands["WRGB"] == ref["WRGB"]
    wide = simulate_scores_packed("hbm3-attacc", 130, 128, L)
    assert wide.commands["WRGB"] == ref["WRGB"]
    # a whole token per bank (4 per row, 64 x 4 = 256 tokens per activation) vs AttAcc's head
    # dim over the 4 banks of a bank group (16 tokens per MAC pair): equal at multiples of 256
    last = -(-(L % 256 or 256) // 64)          # token slots of the last row
    assert wide.commands["MACAB"] == 130 * 8 * ((-(-L // 256) - 1) * 4 + last)
    assert (wide.commands["MACAB"] == ref["MACAB"]) == (L % 256 == 0)
