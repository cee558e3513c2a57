"""A progress bar on stderr: records done, rate and time left, redrawn in place."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    WIDTH = 30

    def __init__(self, stream: TextIO | None = None, *, min_interval: float = 0.2, unit: str = "records") -> None:
        self.stream = stream or sys.stderr
        self.unit = unit
        self.min_interval = min_interval
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = time.perf_counter()
        if now - self._last_draw < self.min_interval and stage.startswith("history"):
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        share = min(done / total, 1.0) if total else 1.0
        filled = int(share * self.WIDTH)
        left = (total - done) / rate if rate > 0 and total > done else 0.0
        line = (
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:6.1%} {done:,}/{total:,} {self.unit}"
            f"  {rate:,.0f}/s  {_duration(elapsed)} elapsed, {_duration(left)} left  {stage:<18}"
        )
        self.stream.write(line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"
