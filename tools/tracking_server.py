"""A shared-style MLflow tracking server on one machine: PostgreSQL from the OS packages, `mlflow server` over it.

`python -m tools.tracking_server` (`make tracking-server`) starts PostgreSQL on a free 127.0.0.1
port with its cluster in mlruns/tracking-server/postgres, creates the `mlflow` role and database, and runs
`mlflow server --backend-store-uri postgresql://mlflow@127.0.0.1:<pg port>/mlflow --artifacts-destination
mlruns/tracking-server/artifacts` on 127.0.0.1. It prints the MLFLOW_TRACKING_URI to export and stays in the
foreground; Ctrl-C there, or `... stop` from another shell, stops both servers. tests/test_tracking_postgres.py
runs the pipeline against this same code, so the README's *Scaling out* describes what was run.

PostgreSQL refuses to run as root, so as root the cluster runs as the OS user `postgres` (created when
missing) through `runuser`. It listens on 127.0.0.1 only and has no Unix socket, so a deep project folder
cannot overflow the socket path's 107 bytes and no system folder (/var/run/postgresql) is needed. The
password of both roles is generated once and kept in a libpq password file (mode 0600) beside the cluster:
the command lines that `ps` shows and the printed URIs carry none.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psutil

from pipeline.errors import PipelineError
from tools.local_server import ROOT, free_port, local_process

MODULE = "tools.tracking_server"  # how `stop` recognises the foreground process
DEFAULT_HOME = ROOT / "mlruns" / "tracking-server"
DEFAULT_PORT = 5001  # beside `make ui`'s 5000
PG_USER = "postgres"  # the cluster's superuser, and the OS user that runs it when we are root
ROLE = DATABASE = "mlflow"
APT_PACKAGE = "postgresql"
# Where Debian's packages put the server programs; /usr/lib/postgresql/<major>/bin is not on PATH.
DEBIAN_BIN = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
PG_TIMEOUT = 60  # seconds pg_ctl waits for the server to start or stop


class TrackingServerError(PipelineError):
    """PostgreSQL or the MLflow server cannot be installed, started or stopped; the message names the fix."""


@dataclass(frozen=True)
class Home:
    """The files of one server pair, all under one folder (mlruns/ is gitignored and `make clean` removes it)."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "postgres"

    @property
    def passfile(self) -> Path:
        return self.root / "pgpass"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def postgres_log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def mlflow_log(self) -> Path:
        return self.root / "mlflow.log"

    @property
    def state(self) -> Path:
        """The foreground process and the URI, so `stop` from another shell finds them."""
        return self.root / "server.json"


@dataclass(frozen=True)
class TrackingServer:
    """A running pair: the URI the pipeline uses, and the database (with its password file) to read directly."""

    uri: str
    database_url: str
    passfile: Path
    artifacts: Path
    process: subprocess.Popen


def _find_bin() -> Path | None:
    candidates = sorted(DEBIAN_BIN.glob("[0-9]*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:  # /usr/local/bin/initdb may be a link into a version's folder: take that folder
        candidates.insert(0, Path(on_path).resolve().parent)
    return next((c for c in candidates if all((c / p).is_file() for p in SERVER_PROGRAMS)), None)


def postgres_bin() -> Path:
    """The folder of initdb, pg_ctl and postgres; installs Debian's `postgresql` when they are missing and we are root."""
    found = _find_bin()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise TrackingServerError(
            "PostgreSQL's server programs (initdb, pg_ctl, postgres) are not installed: install the "
            f"`{APT_PACKAGE}` package (Debian/Ubuntu: sudo apt-get install {APT_PACKAGE}) and run again"
        )
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", APT_PACKAGE]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise TrackingServerError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = _find_bin()
    if not found:
        raise TrackingServerError(f"`apt-get install {APT_PACKAGE}` left no initdb in {DEBIAN_BIN}/<version>/bin")
    return found


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if _as_root() else command


def _postgres_user() -> pwd.struct_passwd:
    """The OS user `postgres`, created as a system user when missing (Debian's package creates it too)."""
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise TrackingServerError(f"`{' '.join(command)}` failed: {done.stderr.strip()}") from None
        return pwd.getpwnam(PG_USER)


def _give_to_postgres(*paths: Path) -> None:
    """As root, hand the cluster's folder and log to `postgres`, and check that it can reach them."""
    if not _as_root():
        return
    user = _postgres_user()
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)
        if subprocess.run(_as_postgres(["test", "-w", str(path)])).returncode:
            raise TrackingServerError(
                f"PostgreSQL runs as the OS user {PG_USER}, which cannot reach {path}: every folder above it "
                "must be searchable by others (chmod o+x), or choose another folder with --home (make: TRACKING_HOME=...)"
            )


def _run(command: list[str], what: str, log: Path | None = None, **kwargs: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode:
        where = f"; see {log}" if log else ""
        raise TrackingServerError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}{where}")


def _init_cluster(home: Home, bin_dir: Path) -> str:
    """initdb once, with password logins over TCP on 127.0.0.1 only; return the roles' password."""
    if (home.data / "PG_VERSION").is_file():
        if not home.passfile.is_file():
            raise TrackingServerError(f"{home.passfile} is missing, so the cluster in {home.data} cannot be used: delete {home.root} to start over")
        return home.passfile.read_text().strip().rsplit(":", 1)[1]
    password = secrets.token_urlsafe(24)  # URL-safe: nothing to escape in the password file
    home.passfile.touch(mode=0o600)
    home.passfile.write_text(f"127.0.0.1:*:*:*:{password}\n")
    home.data.mkdir(exist_ok=True)
    home.postgres_log.touch()
    # initdb reads the superuser's password from a file; `postgres` cannot reopen root's stdin pipe (/dev/stdin).
    pwfile = home.root / ".initdb-password"
    pwfile.touch(mode=0o600)
    pwfile.write_text(password)
    try:
        _give_to_postgres(home.data, home.postgres_log, pwfile)
        initdb = [
            str(bin_dir / "initdb"), "--pgdata", str(home.data), "--username", PG_USER, "--pwfile", str(pwfile),
            "--auth-host", "scram-sha-256", "--auth-local", "peer", "--encoding", "UTF8", "--no-locale",
        ]
        _run(_as_postgres(initdb), "initdb", cwd=home.root)
    finally:
        pwfile.unlink()
    with (home.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# tools.tracking_server: TCP on loopback only, no Unix socket\n"
                   "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
    return password


def _pg_ctl(bin_dir: Path, home: Home, *args: str) -> list[str]:
    return _as_postgres([str(bin_dir / "pg_ctl"), "--pgdata", str(home.data), *args])


def _postgres_running(home: Home, bin_dir: Path) -> bool:
    return subprocess.run(_pg_ctl(bin_dir, home, "status"), capture_output=True, cwd=home.root).returncode == 0


def _start_postgres(home: Home, bin_dir: Path, port: int) -> None:
    if _postgres_running(home, bin_dir):  # left by a foreground process that was killed before it could stop it
        _stop_postgres(home, bin_dir)
    command = _pg_ctl(bin_dir, home, "--log", str(home.postgres_log), "-o", f"-p {port}", "--wait", "--timeout", str(PG_TIMEOUT), "start")
    # A session of its own: Ctrl-C in the terminal reaches this process, which then stops PostgreSQL in order.
    _run(command, "starting PostgreSQL", home.postgres_log, cwd=home.root, start_new_session=True)


def _stop_postgres(home: Home, bin_dir: Path) -> None:
    if _postgres_running(home, bin_dir):
        command = _pg_ctl(bin_dir, home, "--mode", "fast", "--wait", "--timeout", str(PG_TIMEOUT), "stop")
        _run(command, "stopping PostgreSQL", home.postgres_log, cwd=home.root)


def _create_role_and_database(port: int, home: Home, password: str) -> None:
    """The `mlflow` role owns the `mlflow` database, so MLflow's tables are not the superuser's (as on a real server)."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        raise TrackingServerError("psycopg is not installed: pip install -e '.[postgres]' (make tracking-server does)") from None
    with psycopg.connect(
        host="127.0.0.1", port=port, user=PG_USER, dbname="postgres", passfile=str(home.passfile), autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), sql.Identifier(ROLE)))


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as err:
            raise TrackingServerError(f"port {port} on 127.0.0.1 is taken ({err.strerror}): pick another with --port (make: TRACKING_PORT=...)") from None


@contextmanager
def _home_lock(home: Home) -> Iterator[None]:
    """One server pair per home: a second one would start the same cluster. The kernel drops the flock when its
    holder dies, SIGKILL included, so a killed server leaves no stale lock."""
    home.root.mkdir(parents=True, exist_ok=True)
    with (home.root / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            uri = json.loads(home.state.read_text())["uri"] if home.state.is_file() else "a port being set up"
            raise TrackingServerError(f"a tracking server from {home.root} already runs at {uri}: stop it first (make tracking-server-stop)") from None
        yield


@contextmanager
def running(home: Path = DEFAULT_HOME, port: int = 0, workers: int | None = None, timeout: float = 180) -> Iterator[TrackingServer]:
    """Start PostgreSQL and `mlflow server` over it (port 0: a free one); yield once /health answers.

    Both are stopped on exit, whatever happened: the MLflow server's process group, then PostgreSQL.
    """
    layout = Home(home.resolve())
    bin_dir = postgres_bin()
    if port:
        _check_port_free(port)
    with _home_lock(layout):
        password = _init_cluster(layout, bin_dir)
        layout.artifacts.mkdir(exist_ok=True)
        pg_port = free_port()
        _start_postgres(layout, bin_dir, pg_port)
        try:
            _create_role_and_database(pg_port, layout, password)
            port = port or free_port()
            database_url = f"postgresql://{ROLE}@127.0.0.1:{pg_port}/{DATABASE}"
            command = [
                sys.executable, "-m", "mlflow", "server", "--backend-store-uri", database_url,
                "--artifacts-destination", str(layout.artifacts), "--host", "127.0.0.1", "--port", str(port),
                *(["--workers", str(workers)] if workers else []),
            ]
            env = {"PGPASSFILE": str(layout.passfile), "MLFLOW_DISABLE_TELEMETRY": "true"}
            with local_process(command, port, "/health", env, timeout, layout.mlflow_log) as server:
                yield TrackingServer(server.url, database_url, layout.passfile, layout.artifacts, server.process)
        finally:
            _stop_postgres(layout, bin_dir)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # `stop` sends SIGTERM: unwind as Ctrl-C does, so both servers stop in order


def _process(pid: int, marker: str) -> psutil.Process | None:
    """The process `pid` if it still runs `marker` (a pid in a stale state file may belong to another program now)."""
    try:
        process = psutil.Process(pid)
        return process if marker in " ".join(process.cmdline()) else None
    except psutil.Error:
        return None


def serve(home: Path, port: int) -> int:
    """Run both servers in the foreground until Ctrl-C, SIGTERM (`stop`) or the MLflow server's own exit."""
    layout = Home(home.resolve())
    # SIGINT too: a shell that starts us in the background ignores it, and Python keeps an ignored signal ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running(layout.root, port) as server:
            layout.state.write_text(json.dumps({"pid": os.getpid(), "mlflow_pid": server.process.pid, "uri": server.uri}))
            try:
                print(
                    f"MLflow tracking server on PostgreSQL, store {server.database_url} (password in {server.passfile}), "
                    f"artifacts in {server.artifacts}, UI at {server.uri}\n"
                    f"In another shell:\n  export MLFLOW_TRACKING_URI={server.uri}\n  make train evaluate export\n"
                    "Ctrl-C here, or `make tracking-server-stop`, stops both servers.",
                    flush=True,
                )
                code = server.process.wait()
                raise TrackingServerError(f"mlflow server exited with {code}; see {layout.mlflow_log}")
            finally:
                layout.state.unlink(missing_ok=True)
    except KeyboardInterrupt:
        print("stopped the MLflow server and PostgreSQL", flush=True)
    return 0


def stop(home: Path) -> int:
    """Stop the foreground `serve` of `home` (it stops both servers), then whatever a killed one left running."""
    layout = Home(home.resolve())
    if not layout.root.is_dir():
        print(f"no tracking server was ever started from {layout.root}")
        return 0
    state = json.loads(layout.state.read_text()) if layout.state.is_file() else {}
    foreground = _process(state["pid"], MODULE) if state else None
    if foreground:
        foreground.terminate()
        try:
            foreground.wait(timeout=2 * PG_TIMEOUT)
        except psutil.TimeoutExpired:
            raise TrackingServerError(f"the tracking server (PID {foreground.pid}) did not stop within {2 * PG_TIMEOUT}s") from None
    with _home_lock(layout):  # refuses while a server that is not ours (a test's `running`) uses this home
        mlflow = _process(state["mlflow_pid"], "mlflow") if state else None
        if mlflow:  # its own process group: the server and its workers
            os.killpg(mlflow.pid, signal.SIGTERM)
        bin_dir = _find_bin()
        if bin_dir and (layout.data / "PG_VERSION").is_file():
            _stop_postgres(layout, bin_dir)
        layout.state.unlink(missing_ok=True)
    print(f"stopped the tracking server of {layout.root}" if state else f"no tracking server was running from {layout.root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("start", "stop"), default="start")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="the cluster, artifacts and logs (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the MLflow server's port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args(argv)
    try:
        return serve(args.home, args.port) if args.action == "start" else stop(args.home)
    except (PipelineError, RuntimeError, TimeoutError) as err:  # local_process raises RuntimeError/TimeoutError
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
