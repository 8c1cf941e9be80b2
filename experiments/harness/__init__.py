"""The measurement harness: what experiment modules import, and the runner behind the CLI.

Experiment modules need only ``Task``, ``Metric`` and ``Measurement`` (``ctx`` is a
``Context`` handed to ``run``). Importing this package stays cheap and framework-free; the
runner, stats and CLI live in submodules imported on demand.
"""

from experiments.harness.api import Measurement, Metric, Task
from experiments.harness.context import Context
from experiments.harness.errors import HarnessError
from experiments.harness.framework_setup import configure_threads
from experiments.harness.timing import FULL_BUDGET, QUICK_BUDGET, Budget, TimingInfo

__all__ = ["FULL_BUDGET", "QUICK_BUDGET", "Budget", "Context", "HarnessError", "Measurement",
           "Metric", "Task", "TimingInfo", "configure_threads"]
