"""Workarounds for the libraries the pipeline uses, in one place: each says why, links the upstream issue, and
names the versions it was checked on (`TESTED`). Another installed version gets one logged warning, and
tests/test_compat.py fails both when a workaround is no longer needed (upstream fixed it) and when it no longer
works (upstream moved what it relies on).

Nothing here imports the libraries themselves: `pipeline/__init__.py` calls `install()` on every import of the
package, the torch-free runtime and the service included.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import metadata

log = logging.getLogger(__name__)

# The versions each workaround below was checked on; tests/test_compat.py checks them against the installed ones.
TESTED = {"transformers": "4.57.6"}

MISTRAL_REGEX_LOGGER = "transformers.tokenization_utils_base"


def installed(package: str) -> str | None:
    """The installed version of `package`, or None when it is not installed (the Bento has no transformers)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@cache
def check_tested(package: str, tested: str, workaround: str) -> bool:
    """Whether `package` is installed at the version `workaround` was checked on (or not installed at all, when
    the workaround has nothing to do). Otherwise one warning per process and workaround, and False."""
    found = installed(package)
    if found is None or found == tested:
        return True
    log.warning(
        "%s %s is installed, but the workaround %s was checked on %s only: run tests/test_compat.py, then drop the "
        "workaround or update TESTED in %s",
        package,
        found,
        workaround,
        tested,
        __name__,
    )
    return False


class NotAMistralTokenizer(logging.Filter):
    """Drops transformers' false "incorrect regex pattern ... set fix_mistral_regex=True" warning.

    transformers 4.57 checks every tokenizer of over 100,000 tokens loaded from a local folder (the
    multilingual-e5 / XLM-R one here) for Mistral's broken pre-tokenizer regex. Its early return for a model type
    that is not Mistral's applies only to a config.json written by transformers <= 4.57.2, so a folder that 4.57.3
    to 4.57.6 saved always warns, whatever its model. No tokenizer here is a Mistral one: the warning, shown on
    every load of such a model or its export, only misleads.

    Upstream: https://github.com/huggingface/transformers/issues/42591 (closed by #42743; 4.57.6 still warns);
    the remaining case is fixed by https://github.com/huggingface/transformers/pull/45444, on the 5.x line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "fix_mistral_regex" not in record.getMessage()


def install() -> None:
    """Every workaround of this module, once however often it is called."""
    logger = logging.getLogger(MISTRAL_REGEX_LOGGER)
    if not any(isinstance(f, NotAMistralTokenizer) for f in logger.filters):
        logger.addFilter(NotAMistralTokenizer())
    check_tested("transformers", TESTED["transformers"], "NotAMistralTokenizer")
