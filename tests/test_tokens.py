"""Tokens, TTFT and TPOT come from what each step yields, not from batch x steps."""
import pytest

from archsim import Simulator
from archsim.trace.schema import Phase, Step, Trace

from engine_helpers import hw, op


def run(steps):
    return Simulator(hw(["d0"])).run(Trace(tuple(steps), {}))


def test_plain_decoding_yields_one_token_per_sequence_per_step():
    r = run([Step(0, Phase.PREFILL, 4, 8, 8, (op(0, 1000),)),
             Step(1, Phase.DECODE, 4, 1, 9, (op(0, 100),)),
             Step(2, Phase.DECODE, 4, 1, 10, (op(0, 100),))])
    assert r.tokens == 12
    assert r.ttft_s == pytest.approx(1000e-12)
    assert r.tpot_s["mean"] == pytest.approx(100e-12)


def test_a_speculative_step_yields_several_tokens_per_sequence():
    # each verification step accepts 3 tokens per sequence on average
    r = run([Step(0, Phase.PREFILL, 2, 8, 8, (op(0, 1000),)),
             Step(1, Phase.DECODE, 2, 4, 12, (op(0, 300),), tokens_out=6),
             Step(2, Phase.DECODE, 2, 4, 15, (op(0, 300),), tokens_out=6)])
    assert r.tokens == 2 + 6 + 6
    assert r.tpot_s["mean"] == pytest.approx(100e-12)       # 300 ps for 3 tokens each
    assert r.tokens_per_s == pytest.approx(14 / 1600e-12)
    assert "14 over 3 steps" in r.to_table()


def test_mixed_steps_and_first_tokens_over_several_steps():
    # continuous batching: 2 sequences prefill in step 0; step 1 decodes them and prefills a
    # third one, whose first token comes out of step 1
    r = run([Step(0, Phase.PREFILL, 2, 8, 8, (op(0, 1000),)),
             Step(1, Phase.MIXED, 3, 1, 9, (op(0, 500),), tokens_out=3, first_tokens=1),
             Step(2, Phase.DECODE, 3, 1, 10, (op(0, 200),))])
    assert r.tokens == 2 + 3 + 3
    assert r.ttft_s == pytest.approx((2 * 1000 + 1 * 1500) / 3 * 1e-12)
    assert r.tpot_s["p50"] == pytest.approx(350e-12)        # mixed 500 and decode 200 ps
