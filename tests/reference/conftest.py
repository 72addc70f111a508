"""Helpers for the capture / import / validation tests."""
from __future__ import annotations

import argparse
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "kineto")
KINETO_FIXTURE = os.path.join(FIXTURES, "tiny_gpt2_cpu.json.gz")
TINY_WORKLOAD = os.path.join(FIXTURES, "tiny_gpt2.yaml")


def run_cli(*argv) -> int:
    """Run an archsim subcommand: through the main CLI once it registers these command modules,
    else through a parser built the way the main CLI builds it (``add_commands(subparsers)``)."""
    from archsim import cli as main_cli
    mods = getattr(main_cli, "COMMAND_MODULES", ())
    if "archsim.capture.cli" in mods and "archsim.validation.cli" in mods:
        return main_cli.main([str(a) for a in argv])
    import sys
    from archsim.errors import ArchsimError
    from archsim.capture.cli import add_commands as add_capture
    from archsim.validation.cli import add_commands as add_validation
    parser = argparse.ArgumentParser(prog="archsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_capture(sub)
    add_validation(sub)
    args = parser.parse_args([str(a) for a in argv])
    try:
        return args.func(args)
    except ArchsimError as e:
        print(f"archsim: error: {e}", file=sys.stderr)
        return 2


@pytest.fixture
def cli():
    return run_cli
