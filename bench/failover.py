"""Takeover time of the standby (SPEC §11): how long after the leader is SIGKILLed the
other ``posko run`` starts polling.

    .venv/bin/python bench/failover.py            # ~60 s; needs PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/failover.py --runs 3   # more kills for a steadier p99

Each run is tests/test_failover.py: two real processes on one PostgreSQL schema under the
crash-safety test's mixed load (check-ins, /aman, /lapor, a silent post's alert climbing,
a circular with receipts), the leader SIGKILLed ten times at random moments and restarted
as the new standby. The takeover time of a kill runs from the SIGKILL to the survivor's
first getUpdates; p99 is over every kill of every run. The run's own checks (exactly once,
no alert step twice, outbox rows sent once) must pass, or no figure is given.

The last line of output is one JSON object:
``{"takeover_s_p99": ..., "takeover_s_max": ..., "kills": ..., "loop_s": ...}``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reference import loop_s  # noqa: E402


def one_run() -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "tests/test_failover.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"test": "failover"' in line:
            figures: dict[str, object] = json.loads(line)
            return figures
    tail = (done.stdout + done.stderr)[-3000:]
    raise SystemExit(f"the failover run gave no figures (exit {done.returncode}):\n{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    takeovers: list[float] = []
    for run in range(args.runs):
        figures = one_run()
        times = [float(t) for t in figures["takeover_s"]]  # type: ignore[attr-defined]
        takeovers.extend(times)
        print(
            f"run {run + 1}: takeover s {times}, duplicates {figures['duplicates']}"
            f" (in flight at kills {figures['in_flight_at_kills']}), wall {figures['wall_s']} s"
        )
    ordered = sorted(takeovers)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    print(
        json.dumps(
            {
                "takeover_s_p99": round(p99, 2),
                "takeover_s_max": round(ordered[-1], 2),
                "takeover_s_median": round(ordered[len(ordered) // 2], 2),
                "kills": len(ordered),
                "loop_s": loop_s(),
            }
        )
    )


if __name__ == "__main__":
    main()
