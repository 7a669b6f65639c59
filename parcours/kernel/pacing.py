"""How many bulk cases may be opening at once: officers first during an import (issue 14).

A case's opening (register it, find its officer, record the events, send the welcome) is a
few workflow tasks and activities on the same server and worker as every officer's action.
Started as fast as Temporal accepts them, 10,000 approvals become thousands of openings
queued at once, and an officer's action waits behind them (approve p99 ~20x idle in the full
run of 2026-12-02). So a bulk import keeps at most `OpeningWindow.size` cases opening at a
time, and sizes that window by how long openings take, as TCP Vegas sizes its window by
round-trip time:

- `base` is the shortest recent opening: what an opening takes when nothing waits ahead of it.
- `recent` is a moving average of the latest openings.
- `size * (1 - base / recent)` estimates how many openings are *waiting* (not being worked
  on) right now. Fewer than `low`: the system has room, grow the window by about one per
  window's worth of openings. More than `high`: a queue is forming, the thing an officer would
  wait behind; shrink by as much, or by a quarter at once when far more wait (a surge).

The result is an import that runs as fast as the machine allows while keeping the queue a
few openings long, and slows down by itself when people are busy on the same machine (their
work lengthens openings). Pure: no clock, no I/O; `application/start_many.py` feeds it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Weight of the newest opening in the moving average.
RECENT_WEIGHT = 0.2
# `base` is the shortest opening among the last BASE_SPAN * BASE_CHUNKS: a lucky outlier, or a
# machine that has become slower for good (more cases open, a colder cache), ages out.
BASE_SPAN = 100
BASE_CHUNKS = 5
# Waiting more than this many times `high`: cut the window by this factor at once, instead
# of one slot per window of openings (a burst of people's work must not wait for that).
SURGE = 2.0
CUT = 0.75


@dataclass
class OpeningWindow:
    """The number of cases a bulk import may have opening at once."""

    largest: int = 32
    smallest: int = 2
    # Openings allowed to wait (not worked on) before the window shrinks, and below which it
    # grows: the queue an officer's action may find ahead of it.
    low: float = 2.0
    high: float = 4.0
    limit: float = 4.0
    recent: float | None = None
    # Minima of the latest chunks of BASE_SPAN openings, the newest last (its chunk filling).
    _minima: deque[float] = field(default_factory=lambda: deque(maxlen=BASE_CHUNKS))
    _in_chunk: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.smallest <= self.largest:
            raise ValueError("OpeningWindow needs 1 <= smallest <= largest")
        if not 0 <= self.low <= self.high:
            raise ValueError("OpeningWindow needs 0 <= low <= high")
        self._clamp()

    @property
    def size(self) -> int:
        return int(self.limit)

    @property
    def base(self) -> float | None:
        """The shortest recent opening: what one takes when nothing waits ahead of it."""
        return min(self._minima) if self._minima else None

    def waiting(self) -> float:
        """Openings estimated to wait right now (0 before any opening is seen)."""
        base = self.base
        if base is None or self.recent is None or self.recent <= 0:
            return 0.0
        return max(0.0, self.limit * (1.0 - base / self.recent))

    def opened(self, seconds: float) -> None:
        """A case finished opening `seconds` after its start was sent."""
        seconds = max(seconds, 1e-6)
        if not self._minima or self._in_chunk >= BASE_SPAN:
            self._minima.append(seconds)
            self._in_chunk = 0
        self._minima[-1] = min(self._minima[-1], seconds)
        self._in_chunk += 1
        self.recent = (
            seconds
            if self.recent is None
            else (1 - RECENT_WEIGHT) * self.recent + RECENT_WEIGHT * seconds
        )
        waiting = self.waiting()
        if waiting > SURGE * self.high:
            self.limit *= CUT
        elif waiting > self.high:
            self.limit -= 1.0 / self.limit
        elif waiting < self.low:
            self.limit += 1.0 / self.limit
        self._clamp()

    def gave_up(self) -> None:
        """A case was not seen opened in the time allowed: something is slow or stuck; halve
        the window (its time says nothing of a queue, so it does not enter the average)."""
        self.limit /= 2
        self._clamp()

    def _clamp(self) -> None:
        self.limit = float(min(max(self.limit, self.smallest), self.largest))
