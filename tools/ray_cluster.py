"""A Ray cluster on this machine for a test or a benchmark, started with `ray start` as docs/corpus.md starts the
machines of one, and stopped by ending its own processes.

`ray stop` is not used: it stops every Ray process on the machine, other users' clusters included. The cluster
has a token of its own in the environment it hands out (Ray 2.60 refuses clients without it), so nothing is
written to ~/.ray, and its files live in a temporary folder that also names its processes.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tools.local_server import free_port

RAY = str(Path(sys.executable).with_name("ray"))


@dataclass(frozen=True)
class Cluster:
    """Where clients reach the cluster, and the environment they need for it (its token)."""

    address: str
    env: dict[str, str]
    temp: str

    def processes(self) -> list[psutil.Process]:
        """Its daemons: the processes whose command line names its temporary folder. Its workers and actors are
        their children."""
        return [p for p in psutil.process_iter(["cmdline"]) if any(self.temp in part for part in p.info["cmdline"] or [])]


def _ray(env: Mapping[str, str], *args: str) -> None:
    result = subprocess.run([RAY, *args], env=dict(env), capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"ray {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


@contextlib.contextmanager
def ray_cluster(cpus: Sequence[int], env: Mapping[str, str], options: Sequence[str] = ()) -> Iterator[Cluster]:
    """A head with cpus[0] logical CPUs and a worker node for each further entry, all on this machine, each started
    with `options` too. Ray turns --node-ip-address=127.0.0.1 into the machine's address whenever it may run on
    several machines (services.resolve_ip_for_localhost), so the nodes register under that address; clients
    connect to the head on 127.0.0.1."""
    env = {**env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port = free_port()
    cluster = Cluster(f"127.0.0.1:{port}", env, temp)
    try:
        _ray(env, "start", "--head", f"--port={port}", f"--temp-dir={temp}", f"--num-cpus={cpus[0]}", "--include-dashboard=false",
             "--disable-usage-stats", *options)
        for count in cpus[1:]:
            _ray(env, "start", f"--address={cluster.address}", f"--num-cpus={count}", "--disable-usage-stats", *options)
        yield cluster
    finally:
        stop(cluster)
        shutil.rmtree(temp, ignore_errors=True)


def stop(cluster: Cluster) -> None:
    """End the cluster's daemons and their children (workers, actors): terminate, then kill what is left."""
    found = cluster.processes()
    procs: set[psutil.Process] = set(found)
    for proc in found:
        with contextlib.suppress(psutil.Error):
            procs.update(proc.children(recursive=True))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(list(procs), timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
