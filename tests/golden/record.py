"""Record the outputs of :func:`cases.cases` into ``outputs.json.gz`` (run from anywhere).

Run it only to record a deliberate change of results, and say why in the commit.

``python tests/golden/record.py`` re-records every case; ``python tests/golden/record.py PATTERN
...`` re-records only the cases whose key contains one of the patterns and keeps the others as
they were recorded, so a change that deliberately alters some outputs re-records just those.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases  # noqa: E402

OUT = Path(__file__).resolve().parent / "outputs.json.gz"


def main(patterns=()) -> None:
    rec = {}
    if patterns and OUT.exists():
        with gzip.open(OUT, "rt", encoding="utf-8") as fh:
            rec = json.load(fh)
    for args in cases.cases():
        key = cases.key(args)
        if patterns and not any(p in key for p in patterns):
            continue
        rec[key] = cases.run_case(args)
        print("recorded", key, flush=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as fh:
        json.dump(rec, fh, sort_keys=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
