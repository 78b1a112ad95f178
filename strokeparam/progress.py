"""Progress reports: a tqdm bar on a terminal, a plain line every few percent in a log file or a pipe."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_PERCENT = 5          # a line per this many percent of the work when stderr is not a terminal


def progress(iterable=None, *, total: int | None = None, initial: int = 0, desc: str = "", disable: bool = False,
             leave: bool = True, unit: str = "it", stream=None):
    """A progress bar over ``iterable`` (or ``total`` units advanced by ``update``) on ``stream`` (stderr).

    On a terminal it is a tqdm bar. Otherwise (a CI log, ``2> file``, a pipe) it writes one line per
    :data:`LOG_PERCENT` % of the work, and the last one, instead of a line per step.
    """
    stream = sys.stderr if stream is None else stream
    if disable or _is_terminal(stream):
        return tqdm(iterable, total=total, initial=initial, desc=desc, disable=disable, leave=leave, unit=unit,
                    file=stream)
    return LineProgress(iterable, total=total, initial=initial, desc=desc, unit=unit, stream=stream)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class LineProgress:
    """tqdm's interface (iteration, ``update``, ``set_postfix``, ``write``, ``close``) as log lines."""

    def __init__(self, iterable=None, total: int | None = None, initial: int = 0, desc: str = "", unit: str = "it",
                 stream=None):
        self.iterable, self.desc, self.unit, self.stream = iterable, desc, unit, stream
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.start, self.postfix = total, initial, time.perf_counter(), ""
        self.initial, self.reported, self.closed = initial, None, False

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _percent(self) -> int | None:
        return None if not self.total else min(100, int(100 * self.n / self.total) // LOG_PERCENT * LOG_PERCENT)

    def update(self, n: int = 1) -> None:
        self.n += n
        percent = self._percent()
        if percent is not None and percent != self.reported and self.n < self.total:
            self._line()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _line(self) -> None:
        self.reported = self._percent()
        elapsed = time.perf_counter() - self.start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        done = f"{self.reported}% ({self.n}/{self.total} {self.unit})" if self.total else f"{self.n} {self.unit}"
        tail = f", {self.postfix}" if self.postfix else ""
        self.write(f"{self.desc + ': ' if self.desc else ''}{done}, {elapsed:.0f} s, {rate:.3g} {self.unit}/s{tail}")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.n > self.initial:
                self._line()
