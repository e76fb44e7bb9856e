"""pytest settings shared by the tests and the doctests (``--doctest-modules sparsestat``)."""

import importlib.util
import os

# figures drawn by examples and notebooks never open a window
os.environ.setdefault("MPLBACKEND", "Agg")

# the optional sub-packages are documented (and their examples run) only where their
# dependency is installed; `make test` installs both
collect_ignore_glob = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob.append("sparsestat/torch/*")
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore_glob.append("sparsestat/plotting.py")
