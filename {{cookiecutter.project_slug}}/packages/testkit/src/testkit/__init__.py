"""testkit: the project's test framework (a pytest plugin and the `testkit` CLI)."""

from testkit.infra.protocol import Endpoint
from testkit.modes import Mode, ModeConfig

__all__ = ["Endpoint", "Mode", "ModeConfig"]
__version__ = "0.1.0"
