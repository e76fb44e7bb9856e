"""Progress lines printed by the path kernels when ``verbose`` is set.

The kernels call :func:`report` inside a ``numba.objmode`` block, so the line goes
through Python's ``sys.stdout`` (captured by notebooks and by pytest) and the
formatting is ordinary Python.
"""


def report(solver: str, t: float, n_recorded: int, n_times: int, n_active: int,
           n_steps: int) -> None:
    """Print one progress line of a path solver."""
    print(f"[{solver}] t={t:.4g}: {n_recorded}/{n_times} grid times, "
          f"{n_active} active, {n_steps} steps", flush=True)
