"""Workarounds for BentoML, in one place: what the service takes from its private modules (`bentoml._internal`),
each with why, the upstream link and the version it was checked on (`TESTED`). Another installed version gets one
logged warning; a private symbol that is gone stops the service with a message that names this file.
tests/test_compat.py fails both when a workaround is no longer needed and when it no longer works.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

import click
from bentoml._internal.configuration.containers import BentoMLContainer

from pipeline.compat import check_tested, installed

log = logging.getLogger(__name__)

# The version the workarounds below were checked on; tests/test_compat.py checks it against the installed one.
TESTED = {"bentoml": "1.4.39"}

try:
    from bentoml._internal.marshal.dispatcher import CorkDispatcher, NonBlockSema
except ImportError as err:  # BentoML moved or renamed its private dispatcher
    raise ImportError(
        f"BentoML {installed('bentoml')} has no bentoml._internal.marshal.dispatcher.CorkDispatcher and NonBlockSema, "
        f"which the classify service batches with (checked on BentoML {TESTED['bentoml']}): see serving/compat.py"
    ) from err

# The keyword arguments `batching_dispatcher` passes to CorkDispatcher.
DISPATCHER_PARAMETERS = (
    "max_latency_in_ms",
    "max_batch_size",
    "shared_sema",
    "fallback",
    "get_batch_size",
    "batch_dim",
)


def batching_dispatcher(
    *,
    max_latency_ms: int,
    max_batch_size: int,
    concurrent_batches: int,
    fallback: Callable[[], Any],
    get_batch_size: Callable[[Sequence[Any]], int],
) -> CorkDispatcher:
    """BentoML's adaptive batching dispatcher, used directly and letting `concurrent_batches` batches run at once.

    `@bentoml.api(batchable=True)` builds the same CorkDispatcher but gives no access to it: the service could
    only reach it through a second, batchable endpoint called over HTTP by the service's own client, which
    dropped requests under 16 concurrent clients ("Cannot write to closing transport") and costs a second hop
    per request. And BentoML's dispatcher runs one batch at a time (`NonBlockSema(1)` unless `shared_sema` is
    given), so the cores sit idle while the event loop parses requests and writes responses between batches.
    The private class takes a semaphore of any size; the public API has no such setting.

    Upstream: no issue asks for concurrent batches or a public dispatcher; the default is
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/bentoml/_internal/marshal/dispatcher.py#L157 and the
    service app builds its dispatchers without a semaphore at
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/_bentoml_impl/server/app.py#L127 . The nearest open
    request is a customizable batcher, https://github.com/bentoml/BentoML/issues/4753 .
    """
    check_tested("bentoml", TESTED["bentoml"], "batching_dispatcher")
    missing = [name for name in DISPATCHER_PARAMETERS if name not in inspect.signature(CorkDispatcher).parameters]
    if missing:
        raise TypeError(
            f"BentoML {installed('bentoml')}'s private CorkDispatcher takes no {', '.join(missing)} (checked on "
            f"BentoML {TESTED['bentoml']}): see serving/compat.py"
        )
    return CorkDispatcher(
        max_latency_in_ms=max_latency_ms,
        max_batch_size=max_batch_size,
        fallback=fallback,
        get_batch_size=get_batch_size,
        batch_dim=(0, 0),
        shared_sema=NonBlockSema(concurrent_batches),
    )


# BentoML logs every exception an API raises, client errors included, as ERROR with the traceback through
# `log_exception` in this private module's logger, before it answers the exception's status.
BENTOML_ERROR_LOGGER = "bentoml._internal.server.http_app"
ERROR_RECORD_FORMAT = "Exception on %s [%s]"


def failed_request(record: logging.LogRecord) -> tuple[str, str] | None:
    """The (method, path) of BentoML's `Exception on <path> [<method>]` record; None for any other record."""
    if record.msg != ERROR_RECORD_FORMAT or not isinstance(record.args, tuple) or len(record.args) != 2:
        return None
    path, method = record.args
    return str(method), str(path)


def add_error_log_filter(log_filter: logging.Filter) -> None:
    """Attach `log_filter` to the logger of BentoML's exception records, once per filter class.

    BentoML offers no hook between catching an API's exception and logging it, so a filter on that private
    logger is the only way to log a client error (4xx) as one line instead of an ERROR with its traceback
    (serving/request_log.py). The module, its `log_exception` and its logger's name are private: when they
    change, the filter has nothing to filter and a warning says so.

    Upstream: no issue exists; the logging is
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/bentoml/_internal/server/http_app.py#L77-L86 , called for
    every exception, 4xx included, at
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/_bentoml_impl/server/app.py#L715-L748 .
    """
    check_tested("bentoml", TESTED["bentoml"], "add_error_log_filter")
    try:
        http_app = importlib.import_module(BENTOML_ERROR_LOGGER)
        found = callable(http_app.log_exception) and http_app.logger.name == BENTOML_ERROR_LOGGER
    except (ImportError, AttributeError):
        found = False
    if not found:
        log.warning(
            "BentoML %s has no logger %s with log_exception (checked on %s): client errors keep their ERROR and "
            "traceback; see serving/compat.py",
            installed("bentoml"),
            BENTOML_ERROR_LOGGER,
            TESTED["bentoml"],
        )
    logger = logging.getLogger(BENTOML_ERROR_LOGGER)
    if not any(type(f) is type(log_filter) for f in logger.filters):
        logger.addFilter(log_filter)


def serve_bind_host() -> str | None:
    """The host `bentoml serve` is about to bind, read while it imports the service; None in any other process.

    BentoML tells a service nothing of where it listens, and a server without an API key should listen on
    loopback only (serving/auth.py warns otherwise). `bentoml serve` imports the service module inside its click command,
    before it creates the socket, so the command's `--host` (or BENTOML_HOST) is in the current click context;
    when neither is given, `serve_http` binds BentoML's configured `http.host` (0.0.0.0 unless a BentoML config
    says otherwise). That configured host alone is not the answer: `--host` does not change it. A worker gets
    the bound socket as a file descriptor and no host, and an import outside the CLI (a test, `bentoml build`)
    runs in no such command: both get None, so only the serve process speaks, once.

    Upstream: no public API tells the host. The option is
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/bentoml_cli/serve.py#L89-L95 , the import before the
    bind https://github.com/bentoml/BentoML/blob/v1.4.39/src/bentoml_cli/serve.py#L263 and the default
    https://github.com/bentoml/BentoML/blob/v1.4.39/src/_bentoml_impl/server/serving.py#L163 .
    """
    check_tested("bentoml", TESTED["bentoml"], "serve_bind_host")
    context = click.get_current_context(silent=True)
    if context is None or "host" not in context.params:
        return None
    return context.params["host"] or BentoMLContainer.http.host.get()
