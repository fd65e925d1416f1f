"""Write every dashboard's JSON into dashboards/json/, or check that it is up to date.

python -m dashboards            # regenerate
python -m dashboards --check    # exit 1 and name the files that differ
"""

from __future__ import annotations

import argparse
import sys

from dashboards.build import differences, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    if args.check:
        stale = differences()
        for name in stale:
            print(f"{name}: differs from the code; run `python -m dashboards`")
        return 1 if stale else 0
    for path in write():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
