"""Shared helpers for the benchmark scripts: timing and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable


def rate(label: str, n: int, fn: Callable[[], object], unit: str = "ops/s") -> float:
    """Run ``fn`` (which does ``n`` operations) and print the throughput."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    per_second = n / elapsed
    print(f"{label:<58} {per_second:>12,.0f} {unit}   ({elapsed * 1e6 / n:,.1f} µs/op)")
    return per_second


def peak_memory() -> None:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{'peak memory (max RSS)':<58} {kib / 1024:>12,.1f} MiB")


def header(title: str) -> None:
    print(f"# {title}  (Python {sys.version.split()[0]})")
