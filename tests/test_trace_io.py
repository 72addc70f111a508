import json

import pytest

from archsim import generate_trace, load_trace, load_workload, save_trace
from archsim.cli import main
from archsim.errors import TraceError
from archsim.trace.io import trace_to_dict


@pytest.fixture(scope="module")
def small_trace():
    w = load_workload({"model": "gpt2_small", "prompt_tokens": 4, "generate_tokens": 3})
    return generate_trace(w)


@pytest.mark.parametrize("name", ["t.json", "t.json.gz"])
def test_roundtrip(tmp_path, small_trace, name):
    p = tmp_path / name
    save_trace(small_trace, p)
    back = load_trace(p)
    assert back.steps == small_trace.steps and back.workload == small_trace.workload
    if name.endswith(".gz"):
        assert p.read_bytes()[:2] == b"\x1f\x8b"


def _mutate(doc, path, value):
    node = doc
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value


BAD = [
    (("schema",), "torch", "schema", "expected 'archsim.trace'"),
    (("version",), 99, "version", "unsupported trace version"),
    (("steps",), [], "steps", "non-empty list"),
    (("steps", 0, "phase"), "warmup", "steps[0].phase", "expected one of 'prefill', 'decode', 'mixed'"),
    (("steps", 1, "ops", 3, "kind"), "matmul", "steps[1].ops[3].kind", "unknown op kind"),
    (("steps", 1, "ops", 3, "flops"), -1, "steps[1].ops[3].flops", ">= 0"),
    (("steps", 1, "ops", 3, "flops"), "many", "steps[1].ops[3].flops", "expected an integer"),
    (("steps", 1, "ops", 3, "deps"), [7], "steps[1].ops[3].deps", "not an earlier op"),
    (("steps", 1, "ops", 3, "id"), 9, "steps[1].ops[3].id", "expected 3"),
    (("steps", 1, "ops", 3, "bytes_read"), KeyError, "steps[1].ops[3].bytes_read", "missing"),
    (("steps", 1, "ops", 3, "colour"), "red", "steps[1].ops[3].colour", "unknown field"),
    (("steps", 1, "ops", 3, "measured_ns"), -4, "steps[1].ops[3].measured_ns", "non-negative"),
    (("steps", 1, "batch"), 0, "steps[1].batch", ">= 1"),
]


@pytest.mark.parametrize("path, value, key, fragment", BAD)
def test_bad_trace(tmp_path, small_trace, path, value, key, fragment):
    doc = trace_to_dict(small_trace)
    _mutate(doc, path, value)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(TraceError) as e:
        load_trace(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and key in msg and fragment in msg


@pytest.mark.parametrize("content, fragment", [
    (b"{not json", "not valid JSON"),
    (b"\x1f\x8b\x08garbage", "corrupt gzip"),
    (b"[1, 2]", "expected a JSON object"),
])
def test_unreadable_trace_files(tmp_path, content, fragment):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    with pytest.raises(TraceError) as e:
        load_trace(p)
    assert fragment in str(e.value)


def test_cli_replays_a_trace_and_reports_bad_ones(tmp_path, capsys, a100):
    good = tmp_path / "t.json.gz"
    assert main(["trace", str(ROOT_WL), "-o", str(good)]) == 0
    assert "128 steps" in capsys.readouterr().out
    assert main(["run", a100, str(good), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tpot_s"]["mean"] > 0
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"schema": "archsim.trace", "version": 1, "steps": "x"}))
    assert main(["run", a100, str(bad)]) == 2
    err = capsys.readouterr().err
    assert "b.json: steps: expected a non-empty list" in err and "Traceback" not in err


from pathlib import Path  # noqa: E402
ROOT_WL = Path(__file__).resolve().parents[1] / "workloads" / "gpt2_small.yaml"
