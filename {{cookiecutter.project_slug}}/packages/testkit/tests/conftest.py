"""testkit's own tests.

pytester restores sys.modules after each in-process run, so a module first imported inside one
run is imported afresh by the next. NumPy's C extensions refuse that ("cannot load module more
than once per process"), and which test first imports them depends on the order, so a tier run
could fail where the whole suite passed. The analytics' scientific stack (testkit's analytics
extra, with ruptures for the change points) is therefore imported once, here, before any
pytester run takes its snapshot.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("scipy") is not None:
    import scipy.stats  # noqa: F401
if importlib.util.find_spec("ruptures") is not None:
    import ruptures  # noqa: F401
