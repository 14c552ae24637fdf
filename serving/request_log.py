"""Client errors (4xx) as one INFO line with the reason; server errors (5xx) keep their ERROR and traceback.

BentoML logs every exception an API raises as ERROR with the full traceback, before it turns the exception
into a 400 (pydantic validation, bad JSON) or into the exception's own status (`InvalidArgument` is 400). A
bad request is the client's problem and part of normal traffic, so a traceback per bad request buries the
tracebacks that matter. BentoML offers no hook between catching and logging; a filter on its (private) logger
rewrites only the records whose exception is a client error, so anything else it logs is untouched. What
depends on BentoML's internals, the logger and the shape of its record, is in serving/compat.py.
"""

from __future__ import annotations

import logging

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

from serving.compat import BENTOML_ERROR_LOGGER, add_error_log_filter, failed_request

# BENTOML_ERROR_LOGGER stays importable from here, next to the filter that reads its records.
__all__ = ["BENTOML_ERROR_LOGGER", "ClientErrorFilter", "client_error", "install", "log_client_error"]
MAX_REASON_CHARS = 300
log = logging.getLogger("bentoml.textclf.requests")


def client_error(exc: BaseException) -> tuple[int, str] | None:
    """The status BentoML answers for `exc` and a one-line reason, when that status is a 4xx; else None."""
    if isinstance(exc, ValidationError):
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False))
        return 400, reason[:MAX_REASON_CHARS]
    if isinstance(exc, BentoMLException) and 400 <= exc.error_code.value < 500:
        return exc.error_code.value, str(exc)[:MAX_REASON_CHARS]
    return None


def log_client_error(status: int, method: str, path: str, reason: str) -> None:
    log.info("%d %s %s: %s", status, method, path, reason)


class ClientErrorFilter(logging.Filter):
    """Turns BentoML's `Exception on <path> [<method>]` ERROR record into the INFO line of `log_client_error`
    when the exception is a client error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        found = client_error(exc) if exc is not None else None
        request = failed_request(record) if found is not None else None
        if found is None or request is None:
            return True
        log_client_error(found[0], *request, found[1])
        return False


def install() -> None:
    """Attach the filter once, however often the service module is imported."""
    add_error_log_filter(ClientErrorFilter())
