"""Every bad input gives one line naming file, line and key, and exit code 2."""
import pytest

from archsim.cli import main

GOOD_HW = "name: x\ndevices:\n  gpu0:\n    extends: a100_80gb\n"
GOOD_WL = "model: gpt2_small\nprompt_tokens: 8\ngenerate_tokens: 4\n"

BOMB = "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

BAD_HW = [
    # (yaml text, line, key fragment, message fragment)
    ("name: x\ndevcies:\n  gpu0: {extends: a100_80gb}\n", 2, "devcies",
     "did you mean 'devices'"),
    (GOOD_HW + "    memory_bandwidth: \"2 GHz\"\n", 5, "devices.gpu0.memory_bandwidth",
     "wrong unit 'GHz'"),
    (GOOD_HW + "    memory_bandwidth: 2000\n", 5, "devices.gpu0.memory_bandwidth", "missing unit"),
    (GOOD_HW + "    tdp: \"-5 W\"\n", 5, "devices.gpu0.tdp", "out of range"),
    (GOOD_HW + "    roofline: {bandwidth_efficiency: 1.5}\n", 5,
     "devices.gpu0.roofline.bandwidth_efficiency", "expected <= 1.0"),
    (GOOD_HW + "    roofline: {bandwith_efficiency: 0.5}\n", 5,
     "devices.gpu0.roofline.bandwith_efficiency", "did you mean 'bandwidth_efficiency'"),
    ("name: x\ndevices:\n  gpu0:\n    extends: a100_80gbb\n", 4, "devices.gpu0.extends",
     "did you mean 'a100_80gb'"),
    ("name: x\ndevices:\n  gpu0:\n    extends: missing.yaml\n", 4, "devices.gpu0.extends",
     "missing file"),
    ("name: x\ndevices:\n  gpu0: {kind: gpuu}\n", 3, "devices.gpu0.kind", "did you mean 'gpu'"),
    ("name: x\ndevices: [\n", 3, "", "YAML syntax error"),
    ("name: x\nname: y\ndevices: {}\n", 2, "", "duplicate key 'name'"),
    ("name: x\ndevices:\n  gpu0: {extends: a100_80gb}\nplacement: {default: gpu1}\n", 4,
     "placement.default", "unknown device 'gpu1'"),
    (GOOD_HW + "links:\n  - {src: gpu0, dst: cpu, bandwidth: \"10 GB/s\"}\n", 6, "links[0].dst",
     "unknown device 'cpu'"),
    ("devices:\n  gpu0: {extends: a100_80gb}\n", 1, "", "missing required key 'name'"),
    ("", 1, "", "the file is empty"),
    ("- a\n- b\n", 1, "", "expected a mapping of keys at the top level, got list"),
    ("name: x\ndevices:\n", 2, "devices", "expected a mapping, got nothing"),
    ("name: x\ndevices:\n\tgpu0: {}\n", 3, "", "found character '\\t'"),
    (GOOD_HW + "    tensor_peak: {fp16: fast}\n", 5, "devices.gpu0.tensor_peak.fp16",
     "cannot read 'fast'"),
    # an alias bomb (9 levels of 9 aliases, 4e8 nodes once expanded) is refused at once
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + BOMB + GOOD_HW, 7, "", "expands to more than"),
    ("a: &a [*a]\n" + GOOD_HW, 1, "", "alias refers to itself"),
    # two devices whose ops feed each other need a link: the design point's file is named
    (GOOD_HW + "  gpu1: {extends: a100_80gb}\nplacement:\n  default: gpu0\n  rules:\n"
     "    - {device: gpu1, kinds: [attention_score, attention_context]}\n", 6, "links",
     "no link connects them"),
    # preset names are case-insensitive, so a misspelt one still gets its suggestion
    ("name: x\ndevices:\n  gpu0:\n    extends: A100_80GBB\n", 4, "devices.gpu0.extends",
     "did you mean 'a100_80gb'"),
]

BAD_WL = [
    ("model: gpt2_small\nbatch_sise: 2\n", 2, "batch_sise", "did you mean 'batch_size'"),
    ("model: gpt2_small\nbatch_size: -1\n", 2, "batch_size", "expected >= 1"),
    ("model: gpt2_small\nbatch_size: 1.5\n", 2, "batch_size", "expected an integer"),
    ("model: gpt2_smal\n", 1, "model.extends", "did you mean 'gpt2_small'"),
    ("model: {extends: gpt2_small, hidden_size: big}\n", 1, "model.hidden_size",
     "expected an integer"),
    ("model: {extends: gpt2_small, norm: batchnorm}\n", 1, "model.norm",
     "expected one of 'layernorm', 'rmsnorm'"),
    ("model: gpt2_small\nprecision: {weights: fp12}\n", 2, "precision.weights",
     "unknown dtype 'fp12'"),
    ("model: gpt2_small\nprompt_tokens: 1000\ngenerate_tokens: 100\n", 3, "generate_tokens",
     "exceeds the model's max_positions 1024"),
    ("batch_size: 1\n", 1, "", "missing required key 'model'"),
    ("model: 5\n", 1, "model", "expected a model preset name"),
    ("model: gpt2_small\nprecision: fp16\n", 2, "precision", "expected a mapping"),
    # an inline model that breaks a rule with a key of its preset blames the key it changed
    ("model:\n  extends: gpt2_small\n  hidden_size: 100\n", 3, "model.hidden_size",
     "not divisible by num_heads (12)"),
]


def _run(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize("text, line, key, fragment", BAD_HW)
def test_bad_hardware_config(capsys, write, gpt2_small, text, line, key, fragment):
    path = write("hw.yaml", text)
    rc, err = _run(capsys, ["run", path, gpt2_small])
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"hw.yaml:{line}: " in err
    assert key in err and fragment in err


@pytest.mark.parametrize("text, line, key, fragment", BAD_WL)
def test_bad_workload(capsys, write, a100, text, line, key, fragment):
    path = write("wl.yaml", text)
    rc, err = _run(capsys, ["run", a100, path])
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"wl.yaml:{line}: " in err
    assert key in err and fragment in err


def test_error_inside_a_preset_names_the_preset_file(capsys, write, a100):
    # the preset is fine; an override that breaks validation points at the override line
    path = write("wl.yaml", "model:\n  extends: llama2_70b\n  num_kv_heads: 7\n")
    rc, err = _run(capsys, ["run", a100, path])
    assert rc == 2 and "wl.yaml:3: model.num_kv_heads" in err and "multiple of" in err


@pytest.mark.parametrize("override, fragment", [
    ("batch_size=abc", "expected an integer"),
    ("devices.gpu0.memory_bandwidth=3", "missing unit"),
    ("foo=1", "prefix it with 'hw.' or 'workload.'"),
    ("batch_size", "expected KEY.PATH=VALUE"),
    ("batch_sise=8", "unknown key 'batch_sise'; did you mean 'batch_size'?"),
    ("devices.gpu9.memory_bandwidth=3 TB/s", "unknown device 'gpu9'; did you mean 'gpu0'?"),
])
def test_bad_set_override(capsys, a100, gpt2_small, override, fragment):
    rc, err = _run(capsys, ["run", a100, gpt2_small, "--set", override])
    assert rc == 2 and fragment in err and "Traceback" not in err


def test_missing_file(capsys, a100, tmp_path):
    rc, err = _run(capsys, ["run", a100, str(tmp_path / "nope.yaml")])
    assert rc == 2 and "nope.yaml: file not found" in err


def test_model_that_does_not_fit_is_refused(capsys, a100, write):
    path = write("wl.yaml", "model: llama2_70b\nprompt_tokens: 8\ngenerate_tokens: 2\n")
    rc, err = _run(capsys, ["run", a100, path])
    assert rc == 2 and "needs" in err and "GiB" in err


def test_nothing_written_on_error(capsys, write, gpt2_small, tmp_path):
    path = write("hw.yaml", BAD_HW[0][0])
    out = tmp_path / "out"
    rc, _ = _run(capsys, ["run", path, gpt2_small, "-o", str(out), "--timeline",
                          str(tmp_path / "t.json")])
    assert rc == 2 and not out.exists() and not (tmp_path / "t.json").exists()


def test_configs_are_frozen(a100):
    from archsim import load_hardware
    hw = load_hardware(a100)
    with pytest.raises(Exception):
        hw.name = "y"
    with pytest.raises(TypeError):
        hw.devices["gpu1"] = hw.devices["gpu0"]


def test_check_reports_each_file(capsys, write, a100):
    bad = write("bad.yaml", "model: gpt2_small\nbatch_size: 0\n")
    rc = main(["check", a100, bad])
    cap = capsys.readouterr()
    assert rc == 2 and "ok" in cap.out and "bad.yaml:2: batch_size" in cap.err
