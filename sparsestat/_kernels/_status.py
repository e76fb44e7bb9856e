"""The status codes every path kernel returns, and their names.

One set for all kernels, so that a driver reads a status the same way
whichever kernel produced it.
"""

OK = 0          # the last record time was reached
MAX_ITER = 1    # the iteration budget ran out first
DIVERGED = 2    # the iterates blew up: the step is too large for kappa
SUPPORT = 3     # the support outgrew the cap the driver set
PAUSED = 4      # the ISS homotopy stopped to let the driver grow its buffers

NAMES = {OK: "ok", MAX_ITER: "max_iter", DIVERGED: "diverged", SUPPORT: "support",
         PAUSED: "paused"}
