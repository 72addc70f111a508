"""The event-driven system simulator."""
from .simulator import Simulator
from .system import System
from .timeline import chrome_trace, write_chrome_trace

__all__ = ["Simulator", "System", "chrome_trace", "write_chrome_trace"]
