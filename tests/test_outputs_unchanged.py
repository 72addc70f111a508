"""The tool prints the same results as before the architecture change.

``tests/golden/outputs.json.gz`` holds the outputs of ``archsim run`` / ``compare`` / ``dram`` /
``pim-gemv`` (and two simulated timelines) on the shipped design points, recorded before the
transform/mapping/scheduler/pricing layers and the ``pim/`` package were introduced. Every
recorded value must come out identical today; new keys may be added.
"""
import gzip
import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))
import cases  # noqa: E402

with gzip.open(GOLDEN / "outputs.json.gz", "rt", encoding="utf-8") as _fh:
    RECORDED = json.load(_fh)

CASES = cases.cases()


def test_every_case_was_recorded():
    assert sorted(cases.key(a) for a in CASES) == sorted(RECORDED)


@pytest.mark.parametrize("args", CASES, ids=[cases.key(a)[:80] for a in CASES])
def test_output_unchanged(args):
    now = cases.run_case(args)
    problems = cases.diff(RECORDED[cases.key(args)], now)
    assert not problems, "\n".join(problems[:20])


def test_diff_notices_a_changed_value():
    rec = {"a": {"b": [1, 2.5]}, "t": "x\ny"}
    assert cases.diff(rec, {"a": {"b": [1, 2.5], "new": 0}, "t": "x\ny"}) == []
    assert cases.diff(rec, {"a": {"b": [1, 2.5000001]}, "t": "x\ny"})
    assert cases.diff(rec, {"a": {}, "t": "x\ny"})
    assert cases.diff(rec, {"a": {"b": [1, 2.5]}, "t": "x\nz"})
