"""Record the outputs of :func:`cases.cases` into ``outputs.json.gz`` (run from anywhere).

Run it only to record a deliberate change of results, and say why in the commit.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402


def main() -> None:
    rec = {}
    for args in cases.cases():
        rec[cases.key(args)] = cases.run_case(args)
        print("recorded", cases.key(args), flush=True)
    out = Path(__file__).resolve().parent / "outputs.json.gz"
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        json.dump(rec, fh, sort_keys=True)
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
