"""A new user's first hour (issue 14): what broke or misled, each now a clear answer."""
import json

import pytest

from archsim.cli import main


def _err(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return rc, cap.out, cap.err


@pytest.fixture
def tiny_trace(tmp_path, gpt2_small, capsys):
    path = tmp_path / "t.json"
    assert main(["trace", gpt2_small, "-o", str(path), "--set", "prompt_tokens=4",
                 "--set", "generate_tokens=2"]) == 0
    capsys.readouterr()
    return path


def test_an_unknown_op_dtype_is_refused_when_the_trace_is_loaded(capsys, a100, tiny_trace):
    doc = json.loads(tiny_trace.read_text())
    doc["steps"][1]["ops"][3]["dtype"] = "fp17"
    tiny_trace.write_text(json.dumps(doc))
    for argv in (["check", str(tiny_trace)], ["run", a100, str(tiny_trace)]):
        rc, _, err = _err(capsys, argv)
        assert rc == 2
        assert "t.json: steps[1].ops[3].dtype: unknown dtype 'fp17'; did you mean 'fp16'?" in err


def test_preset_names_are_case_insensitive(capsys, gpt2_small, write):
    rc, out, _ = _err(capsys, ["dram", "HBM2", "--requests", "10"])
    assert rc == 0 and "DRAM HBM2" in out
    hw = write("hw.yaml", "name: x\ndevices:\n  gpu0: {extends: A100_80GB}\n")
    rc, out, _ = _err(capsys, ["check", hw, gpt2_small])
    assert rc == 0 and "1 device" in out
