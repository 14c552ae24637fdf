"""Screenshots of the MLflow UI, taken in a real headless browser, for the README.

Starts `mlflow ui` on a free 127.0.0.1 port over the project's tracking store and drives Debian's
`chromium --headless` over the DevTools protocol on a pipe (`--remote-debugging-pipe`, so no extra
package and no debugging port). Before the pictures it sets the UI's own saved view state, the way a
user's clicks would: the runs table shows each execution's model kind and test scores (its stage runs
folded under it), and MLflow's assistant panel, which opens by itself on a first visit from localhost,
is closed. It then writes one PNG per view: the runs table and the chart view comparing the runs'
metrics. Re-run `make screenshots` when the runs change.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from pipeline.config import Config, load_config
from pipeline.stages.tracking import tracking_uri
from tools.local_server import free_port, local_server

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
COLUMNS = ["params.`model.kind`", "metrics.`test_accuracy`", "metrics.`test_macro_f1`", "attributes.`Duration`"]


class ScreenshotError(RuntimeError):
    """The browser or the MLflow UI is missing or did not answer."""


def find_browser() -> str:
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        if not shutil.which(chosen):
            raise ScreenshotError(f"CHROMIUM={chosen!r} is not an executable browser")
        return shutil.which(chosen)
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    raise ScreenshotError(
        "no headless browser found: install Debian's chromium (sudo apt-get install chromium) "
        "or point the CHROMIUM environment variable at a Chrome/Chromium binary"
    )


def experiment_id(uri: str, experiment: str) -> str:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise ScreenshotError(f"no MLflow experiment {experiment!r} in {uri}; it has {names}")
    if not client.search_runs([found.experiment_id], max_results=1):
        raise ScreenshotError(f"experiment {experiment!r} has no runs to show; run the pipeline first")
    return found.experiment_id


def saved_view_state(exp_id: str) -> dict[str, str]:
    """localStorage entries of MLflow 3's UI: the experiment page's columns, and the assistant panel closed."""
    page = {
        "selectedColumns": COLUMNS,
        "orderByKey": "attributes.start_time",  # keeps stage runs nested under their execution
        "orderByAsc": False,
        "lifecycleFilter": "Active",
        "startTime": "ALL",
        "hideEmptyCharts": True,
    }
    return {
        f'MLflowLocalStorage-1.1-ExperimentPage-["{exp_id}"]-ReactComponentState': json.dumps(page),
        "mlflow.assistant.panelOpen_v1": "false",
        "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": "true",
    }


class Chromium:
    """Headless Chromium spoken to over the DevTools protocol: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, browser: str, size: tuple[int, int], timeout: float = 60) -> None:
        self.timeout, self._next_id, self._buffer = timeout, 0, b""
        self._profile = tempfile.mkdtemp(prefix="textclf-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        self.process: subprocess.Popen | None = None
        try:
            try:
                # The protocol pipe must sit exactly on fds 3 and 4. bash's redirections put it there without
                # running Python between fork and exec (dash's take one-digit fds only).
                self.process = subprocess.Popen(
                    [
                        "bash", "-c", f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write}', browser,
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                        "--no-first-run", "--disable-background-networking", "--disable-extensions", "--disable-sync",
                        "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
                        f"--window-size={size[0]},{size[1]}", "about:blank",
                    ],
                    pass_fds=(commands_read, replies_write),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            finally:  # the browser's ends: closed here, so a browser that exits shows up as end of file
                os.close(commands_read)
                os.close(replies_write)
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False}, self.session)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise ScreenshotError(f"chromium exited (code {self.process.poll()}) before {method}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise ScreenshotError(f"chromium refused {method}: {reply['error']}")
                    return reply["result"]
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._replies, 1 << 20) if ready else b""
            if ready and not chunk:
                raise ScreenshotError(f"chromium exited (code {self.process.wait()}) while answering {method}")
            if not chunk:
                raise ScreenshotError(f"chromium did not answer {method} within {self.timeout:.0f}s")
            self._buffer += chunk

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        return result["result"].get("value")

    def open(self, url: str, ready_js: str, settle: float = 2.0) -> None:
        """Navigate and wait until `ready_js` is true (the single-page app has fetched and drawn), then settle."""
        self.call("Page.navigate", {"url": url}, self.session)
        deadline = time.monotonic() + self.timeout
        while not self.evaluate(ready_js):
            if time.monotonic() > deadline:
                raise ScreenshotError(f"{url} did not finish drawing within {self.timeout:.0f}s ({ready_js})")
            time.sleep(0.5)
        time.sleep(settle)

    def screenshot(self, output: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"}, self.session)["data"]
        output.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):  # already closed by an earlier close()
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


def screenshots(cfg: Config, output_dir: Path, size: tuple[int, int] = (1600, 900)) -> list[Path]:
    browser = find_browser()
    uri = tracking_uri(cfg)
    exp_id = experiment_id(uri, cfg.mlflow.experiment)
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with local_server(command, port, "/health") as url:
        chromium = Chromium(browser, size)
        try:
            chromium.open(f"{url}/#/", "document.readyState === 'complete'", settle=0)
            for key, value in saved_view_state(exp_id).items():
                chromium.evaluate(f"localStorage.setItem({json.dumps(key)}, {json.dumps(value)})")
            views = {
                "runs": (f"/experiments/{exp_id}/runs", "document.body.innerText.includes('test_accuracy')"),
                "charts": (f"/experiments/{exp_id}/runs?compareRunsMode=CHART",
                           "document.querySelectorAll('.js-plotly-plot').length > 0"),
            }
            for name, (fragment, ready_js) in views.items():
                chromium.open(f"{url}/#{fragment}", ready_js)
                path = output_dir / f"mlflow-ui-{name}.png"
                chromium.screenshot(path)
                written.append(path)
        finally:
            chromium.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", default="configs/default.yaml", help="names the tracking store")
    parser.add_argument("--experiment", help="experiment to show (default: the config's mlflow.experiment)")
    parser.add_argument("--output", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    overrides = [f"mlflow.experiment={args.experiment}"] if args.experiment else []
    try:
        for path in screenshots(load_config(args.config, overrides), args.output):
            print(path)
    except (RuntimeError, TimeoutError) as err:  # ScreenshotError is a RuntimeError; so is mlflow ui failing to start
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
