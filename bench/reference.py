"""The reference loop every benchmark reports beside its figures (``loop_s``).

Issues state times for a machine where this loop takes 0.3 s (best of 3); dividing a
figure by ``loop_s / 0.3`` compares a noisy or slower machine with that reference."""

from __future__ import annotations

import time

REFERENCE_LOOP_S = 0.3


def _loop() -> int:
    s = 0
    for i in range(10_000_000):
        s += i
    return s


def loop_s(runs: int = 3) -> float:
    """Seconds of the reference loop on this machine, best of ``runs``."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _loop()
        best = min(best, time.perf_counter() - started)
    return round(best, 3)
