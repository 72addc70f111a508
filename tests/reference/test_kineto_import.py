"""The Kineto importer on the committed CPU capture, a derived GPU-style trace, and malformed
variants of both."""
import copy
import gzip
import json
import os

import pytest

from archsim.capture.kineto import import_kineto, parse_aliases, read_kineto
from archsim.errors import ArchsimError, TraceError
from archsim.trace.io import load_trace

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "kineto")
KINETO_FIXTURE = os.path.join(FIXTURES, "tiny_gpt2_cpu.json.gz")
TINY_WORKLOAD = os.path.join(FIXTURES, "tiny_gpt2.yaml")


@pytest.fixture(scope="module")
def doc():
    return read_kineto(KINETO_FIXTURE)


def annotations(d):
    return [e for e in d["traceEvents"] if e.get("cat") == "user_annotation"
            and e["name"].startswith("archsim::")]


def test_fixture_imports(doc):
    t = import_kineto(KINETO_FIXTURE)
    assert t.source == "captured"
    assert len(t.steps) == 4 and t.steps[0].new_tokens == 8
    assert t.meta["kineto"]["mode"] == "cpu" and t.meta["unmeasured_ops"] == 0
    # measured op time = the op region's duration (us -> ns), op by op, in order
    ann = sorted(annotations(doc), key=lambda e: e["ts"])
    ops = [op for s in t.steps for op in s.ops]
    assert [o.name for o in ops] == [e["name"][len("archsim::"):] for e in ann]
    assert [o.measured_ns for o in ops] == pytest.approx([e["dur"] * 1000 for e in ann])


def test_explicit_workload_and_no_step_regions(doc):
    d = copy.deepcopy(doc)
    d["traceEvents"] = [e for e in d["traceEvents"] if not str(e.get("name", "")).startswith(
        "archsim.step::")]
    del d["archsim_workload"]
    t = import_kineto(d, TINY_WORKLOAD)
    ref = import_kineto(doc)
    assert [[o.measured_ns for o in s.ops] for s in t.steps] == \
        [[o.measured_ns for o in s.ops] for s in ref.steps]


def test_aliases_map_other_region_names(doc):
    d = copy.deepcopy(doc)
    for e in annotations(d):  # e.g. names written by other instrumentation
        n = e["name"][len("archsim::"):]
        if n.startswith("L") and n.endswith(".ffn_up"):
            e["name"] = f"model.layers.{n[1:].split('.')[0]}.mlp.up_proj"
        elif n.endswith(".ffn_down"):
            e["name"] = "mlp_down"
    al = parse_aliases([r"model\.layers\.(?P<layer>\d+)\.mlp\.up_proj=L{layer}.ffn_up",
                        "mlp_down=L{layer}.ffn_down"])
    t = import_kineto(d, aliases=al)
    ref = import_kineto(doc)
    assert [[o.measured_ns for o in s.ops] for s in t.steps] == \
        [[o.measured_ns for o in s.ops] for s in ref.steps]
    with pytest.raises(ArchsimError, match="REGEX=OP"):
        parse_aliases(["no-equals-sign"])


def gpu_variant(doc):
    """A GPU-style trace: each op region launches two kernels (runtime event + kernel sharing a
    correlation id); kernel durations are known, so the expected per-op sums are too."""
    d = copy.deepcopy(doc)
    ev = d["traceEvents"]
    expected = {}
    corr = 1000
    for k, a in enumerate(sorted(annotations(d), key=lambda e: e["ts"])):
        total = 0.0
        for j in range(2):
            corr += 1
            t_launch = a["ts"] + a["dur"] * (0.25 + 0.5 * j)
            dur = 1.0 + k + 0.5 * j
            total += dur
            ev.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel",
                       "pid": a["pid"], "tid": a["tid"], "ts": t_launch, "dur": 0.1,
                       "args": {"correlation": corr, "External id": 0}})
            ev.append({"ph": "X", "cat": "kernel", "name": f"k{k}_{j}", "pid": 0, "tid": 7,
                       "ts": t_launch + 5, "dur": dur,
                       "args": {"correlation": corr, "External id": 0, "stream": 7}})
        expected[k] = total * 1000
    # a kernel launched outside every op region (e.g. by the profiler itself)
    ev.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaMemsetAsync", "pid": 1, "tid": 1,
               "ts": 1.0, "dur": 0.1, "args": {"correlation": 1}})
    ev.append({"ph": "X", "cat": "gpu_memset", "name": "memset", "pid": 0, "tid": 7, "ts": 2.0,
               "dur": 3.0, "args": {"correlation": 1}})
    return d, expected


def test_gpu_kernels_joined_by_correlation(doc):
    d, expected = gpu_variant(doc)
    t = import_kineto(d)
    ops = [op for s in t.steps for op in s.ops]
    assert [o.measured_ns for o in ops] == pytest.approx([expected[k] for k in range(len(ops))])
    assert all(o.attrs["kernels"] == 2 for o in ops)
    k = t.meta["kineto"]
    assert k["mode"] == "cuda" and k["unattributed_kernels"] == 1
    assert k["unattributed_kernel_ns"] == pytest.approx(3000.0)


def test_gpu_kernels_joined_by_external_id(doc):
    d = copy.deepcopy(doc)
    a = sorted(annotations(d), key=lambda e: e["ts"])[3]
    d["traceEvents"].append({"ph": "X", "cat": "kernel", "name": "gemv", "pid": 0, "tid": 7,
                             "ts": a["ts"] + 10, "dur": 4.5,
                             "args": {"External id": a["args"]["External id"]}})
    t = import_kineto(d)
    ops = [op for s in t.steps for op in s.ops]
    assert ops[3].measured_ns == pytest.approx(4500.0)
    assert ops[3].name == a["name"][len("archsim::"):]
    assert sum(o.measured_ns for o in ops) == pytest.approx(4500.0)  # other regions: no kernels


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def mutate(fn):
    def make(doc):
        d = copy.deepcopy(doc)
        fn(d)
        return d
    return make


def _drop_key(d, key):
    for e in annotations(d):
        del e[key]
        return


def _rename_first(d, new):
    sorted(annotations(d), key=lambda e: e["ts"])[0]["name"] = new


def _kernel_without_ids(d):
    d["traceEvents"].append({"ph": "X", "cat": "kernel", "name": "orphan", "pid": 0, "tid": 7,
                             "ts": 1.0, "dur": 2.0, "args": {"stream": 7}})


def _unjoinable_kernels(d):
    d["traceEvents"].append({"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7,
                             "ts": 1.0, "dur": 2.0, "args": {"correlation": 424242}})


def _op_outside_steps(d):
    a = sorted(annotations(d), key=lambda e: e["ts"])[-1]
    a["ts"] += 10 ** 9


MALFORMED_DOCS = [
    # (id, mutation, workload, expected message fragment, expected key)
    ("top-level list", lambda d: [d], None, "expected a JSON object", None),
    ("no traceEvents", mutate(lambda d: d.pop("traceEvents")), None, "missing or not a list",
     "traceEvents"),
    ("traceEvents not a list", mutate(lambda d: d.update(traceEvents={})), None, "not a list",
     "traceEvents"),
    ("event not an object", mutate(lambda d: d["traceEvents"].append(3)), None,
     "expected an event object", "traceEvents[{last}]"),
    ("no annotations", mutate(lambda d: [e.update(name="forward") for e in annotations(d)]), None,
     "no op regions found", "traceEvents"),
    ("annotation without dur", mutate(lambda d: _drop_key(d, "dur")), None,
     "expected a number", ".dur"),
    ("unknown op", mutate(lambda d: _rename_first(d, "archsim::L9.norm1")), None,
     "'L9.norm1' is not an op", "traceEvents"),
    ("kernel without correlation", mutate(_kernel_without_ids), None,
     "neither a 'correlation' nor an 'External id'", "traceEvents[{last}].args.correlation"),
    ("kernels not joinable", mutate(_unjoinable_kernels), None, "none of the 1 GPU kernels",
     "traceEvents"),
    ("op outside step regions", mutate(_op_outside_steps), None, "outside every", None),
    ("no workload", mutate(lambda d: d.pop("archsim_workload")), None, "pass --workload",
     "archsim_workload"),
    ("wrong step count", lambda d: d, {"generate_tokens": 6}, "found 4 steps", "traceEvents"),
]


@pytest.mark.parametrize("case", MALFORMED_DOCS, ids=[c[0] for c in MALFORMED_DOCS])
def test_malformed_documents(doc, tmp_path, case):
    _, make, wl_over, fragment, key = case
    d = make(doc)
    path = write(tmp_path, "bad.json", json.dumps(d).encode())
    workload = None
    if wl_over:
        import yaml
        with open(TINY_WORKLOAD) as fh:
            w = yaml.safe_load(fh)
        w.update(wl_over)
        workload = w
    with pytest.raises(TraceError) as ei:
        import_kineto(path, workload)
    err = ei.value
    assert fragment in err.message
    assert err.file == path
    if key is not None:
        n = len(d["traceEvents"]) - 1 if isinstance(d, dict) and isinstance(
            d.get("traceEvents"), list) else 0
        assert err.key is not None and (key.format(last=n) in err.key)


@pytest.mark.parametrize("data,fragment", [
    (b"this is not json", "not valid JSON"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    (gzip.compress(b"{\"traceEvents\": [}"), "not valid JSON"),
], ids=["text", "bad-gzip", "gzip-bad-json"])
def test_unreadable_files(tmp_path, data, fragment):
    path = write(tmp_path, "bad.json.gz", data)
    with pytest.raises(TraceError, match=fragment) as ei:
        import_kineto(path)
    assert ei.value.file == path


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read"):
        read_kineto(tmp_path / "absent.json")


def test_import_kineto_command(cli, tmp_path, capsys):
    out = tmp_path / "t.json.gz"
    assert cli("import-kineto", KINETO_FIXTURE, "-o", out) == 0
    t = load_trace(out)
    assert t.source == "captured" and all(op.measured_ns for s in t.steps for op in s.ops)
    assert "4 steps, 112/112 ops measured" in capsys.readouterr().out
    bad = write(tmp_path, "bad.json", b"[]")
    assert cli("import-kineto", bad, "-o", tmp_path / "x.json") == 2
    assert "expected a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    assert cli("import-kineto", KINETO_FIXTURE, "-o", tmp_path / "x.txt") == 2
