"""``archsim schema``: JSON Schemas of the YAML inputs, for editors (see
:mod:`archsim.config.jsonschema`)."""
from __future__ import annotations


def add_commands(subparsers) -> None:
    """Add the ``schema`` subcommand to an argparse subparsers object."""
    from .jsonschema import DOCUMENTS
    p = subparsers.add_parser(
        "schema", help="print the JSON Schema of a YAML input kind (for the YAML language "
        "server: completion and checks in editors)")
    p.add_argument("document", choices=tuple(DOCUMENTS),
                   help="hw (design point), workload, dram (DRAM spec) or pim (PIM config)")
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of stdout")
    p.set_defaults(func=cmd_schema)


def cmd_schema(args) -> int:
    from ..fsutil import write_atomic
    from ..outpaths import check_file, writing
    from .jsonschema import dumps
    if args.output:
        check_file(args.output, "--output")
    text = dumps(args.document) + "\n"
    if args.output:
        with writing(args.output, "--output"):
            write_atomic(args.output, text)
    else:
        print(text, end="")
    return 0
