"""Run a command while other processes keep the CPU busy, and report its wall time.

The book's timing checks must hold on a busy machine (a laptop with other work open, a
CI runner shared with other jobs). This script is how to check that yourself: it starts
``--workers`` busy processes (``embedtut.bench.BackgroundLoad``: arithmetic and memory
copies, each ending by itself after ``--max-seconds``), runs the command beside them,
stops them, and prints the command's wall time and exit status. Its own exit status is
the command's.

    python benchmarks/under_load.py -- bash .ci/run              # CI beside a 2-core load
    python benchmarks/under_load.py --workers 1 -- python -m pytest tests/test_bench.py

It needs only the standard library (``embedtut.bench`` is imported from this checkout,
not from an installed package), so it can wrap ``.ci/run``, which builds the virtual
environment itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embedtut.bench import BackgroundLoad  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="busy processes (default 2)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=5400.0,
        help="each worker stops by itself after this long (default 5400, CI's limit)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --, e.g. -- bash .ci/run")
    start = time.monotonic()
    with BackgroundLoad(args.workers, seconds=args.max_seconds) as load:
        status = subprocess.call(command)
        still = load.running
    wall = time.monotonic() - start
    print(
        f"\nunder_load: {' '.join(command)!r} exited {status} after {wall:.0f} s "
        f"beside {args.workers} busy workers ({still} still running at its end)",
        flush=True,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
