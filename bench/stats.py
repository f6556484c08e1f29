"""Latency statistics and the one table every benchmark prints."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Row:
    name: str
    samples_ms: list[float]
    seconds: float
    errors: int = 0
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def throughput(self) -> float:
        return len(self.samples_ms) / self.seconds if self.seconds else float("nan")

    def cells(self) -> list[str]:
        if not self.samples_ms:
            return [self.name, "", "", "", "", "", "", self.note]
        return [
            self.name,
            f"{len(self.samples_ms)}",
            f"{self.p50:.2f}",
            f"{percentile(self.samples_ms, 95):.2f}",
            f"{percentile(self.samples_ms, 99):.2f}",
            f"{self.throughput:.0f}",
            f"{self.errors}",
            self.note,
        ]


HEADER = ["measurement", "n", "p50 ms", "p95 ms", "p99 ms", "per s", "errors", "vs floor / target"]


def render(rows: list[Row]) -> str:
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mean(samples: list[float]) -> float:
    return statistics.fmean(samples) if samples else float("nan")


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
