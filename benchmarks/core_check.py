"""Issue 2's performance check: 100k customers × 365 days on a Watts–Strogatz graph (k = 10)
must run in under 10 s on the 2-core machine, measured from command start to results written,
graph building included (cold graph cache).

Run: ``.venv/bin/python benchmarks/core_check.py [--size 100000]``; exits 1 when over the limit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import measure_opmatrix

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "core_ws.yaml"
LIMIT_SECONDS = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="issue-2 core performance check")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--limit", type=float, default=LIMIT_SECONDS)
    args = parser.parse_args(argv)
    (m,) = measure_opmatrix(SCENARIO, args.size)
    rate = args.size * 365 / m.wall
    verdict = "PASS" if m.wall < args.limit else "FAIL"
    print(
        f"core_ws: {args.size:,} customers × 365 days (Watts–Strogatz k=10, contact windows): "
        f"{m.wall:.2f} s wall, {rate / 1e6:.1f}M agent-days/s, peak RSS {m.peak_mb:.0f} MB "
        f"— {verdict} (limit {args.limit:.0f} s)"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
