"""Where a long job stands: step k of n, elapsed time and an estimate of the time left.

On a terminal it is a tqdm bar; when output goes to a file or a pipe (or ``plain=True``), one
clean line per step, so logs carry no bar fragments. ``quiet`` silences both.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm.auto import tqdm

from nas._errors import safe_name

MESSAGE_LIMIT = 160


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Progress over ``total`` steps of a job; ``done`` steps may already be finished (a resumed job).

    The time left is estimated from the steps run in this process only, so steps found already
    done (results reused from the store) do not make it look faster than it is.
    """

    def __init__(
        self, total: int, desc: str, *, done: int = 0, quiet: bool = False, plain: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.total, self.desc, self.done, self.quiet = total, desc, done, quiet
        self.stream = stream or sys.stderr
        self.plain = not self.stream.isatty() if plain is None else plain
        self._started, self._resumed_at = time.monotonic(), done
        self._bar = None
        if not quiet and not self.plain:
            self._bar = tqdm(total=total, initial=done, desc=desc, file=self.stream, dynamic_ncols=True)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def remaining(self) -> float | None:
        ran = self.done - self._resumed_at
        if ran <= 0:
            return None
        return self.elapsed() / ran * (self.total - self.done)

    def step(self, message: str = "", count: int = 1) -> None:
        """Mark ``count`` more steps done; ``message`` says what the step found (printed safely,
        shortened: it may hold a user's name with control characters or of any length)."""
        self.done += count
        message = safe_name(message, MESSAGE_LIMIT)
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(count)
            if message:
                self._bar.set_postfix_str(message)
            return
        left = self.remaining()
        eta = "?" if left is None else format_seconds(left)
        line = f"{self.desc} {self.done}/{self.total} | elapsed {format_seconds(self.elapsed())} | left ~{eta}"
        print(f"{line} | {message}" if message else line, file=self.stream, flush=True)

    def write(self, message: str) -> None:
        """A line about the job (not a step), printed without breaking the bar."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
