"""How many cores this process may run on: what thread counts, worker counts and the reports' machine line use.

The affinity mask, not the machine's count, where the OS has one: under `taskset` or a CPU set the process sees
only its cores. A CPU quota (a container's --cpus) does not show here; the settings that size by it say so.
It lives in the runtime because the service and the MLflow model, which carry only the runtime, size by it too.
"""

from __future__ import annotations

import os


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
