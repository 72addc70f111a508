"""The ``slow`` marker works in every directory of the suite, not only under tests/dram."""
from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parent / "conftest.py").read_text()


def test_slow_tests_anywhere_are_skipped_unless_asked(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers = slow: long-running tests\n")
    sub = pytester.mkpydir("elsewhere")
    (sub / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.slow\ndef test_long():\n    pass\n\n"
        "def test_short():\n    pass\n")
    monkeypatch.delenv("ARCHSIM_SLOW", raising=False)
    pytester.runpytest("-q").assert_outcomes(passed=1, skipped=1)
    monkeypatch.setenv("ARCHSIM_SLOW", "1")
    pytester.runpytest("-q").assert_outcomes(passed=2)
