"""Progress messages of long fits (``verbose > 0``): one timed line per finished stage."""

from __future__ import annotations

import time


class StageReporter:
    """Print each finished stage of a fit with its wall time when ``verbose > 0``.

    Parameters
    ----------
    owner : str
        Name printed in front of every message (the estimator's class name).
    verbose : int
        Nothing is printed when 0.

    Examples
    --------
    >>> report = StageReporter("Demo", verbose=1)
    >>> report.stage("nothing done")  # doctest: +ELLIPSIS
    [Demo] nothing done in ... s
    >>> StageReporter("Demo", verbose=0).stage("silent")
    """

    def __init__(self, owner: str, verbose: int):
        self.owner = owner
        self.verbose = verbose
        self.start = self.last = time.perf_counter()

    def stage(self, message: str) -> None:
        """Report a stage that just finished, with the time since the previous one."""
        now = time.perf_counter()
        if self.verbose > 0:
            print(f"[{self.owner}] {message} in {now - self.last:.2f} s", flush=True)
        self.last = now

    def done(self, message: str) -> None:
        """Report the end of the fit, with the total time."""
        now = time.perf_counter()
        if self.verbose > 0:
            print(f"[{self.owner}] {message}; total {now - self.start:.2f} s", flush=True)
        self.last = now
