"""Describe the machine a number was measured on; every report quotes it beside its figures."""

from __future__ import annotations

import platform
from pathlib import Path

from pipeline.runtime.cores import usable_cores


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    cores = usable_cores()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    return f"{cores} CPU cores ({cpu}){memory}, no GPU used, Python {platform.python_version()}, {platform.system()}"
