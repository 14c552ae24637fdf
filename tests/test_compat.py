"""The library workarounds (pipeline/compat.py, serving/compat.py) against the real libraries, no mocks: each test
fails when its workaround is no longer needed (upstream fixed the problem) or no longer works (upstream moved
what it relies on). Then drop the workaround, or update it and its TESTED versions."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pipeline import compat as pipeline_compat
from serving import compat as serving_compat
from serving.request_log import ClientErrorFilter


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _recorded(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records logger `name` hands to its handlers, that is, after its own filters."""
    handler = _Records()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@contextmanager
def _without_filters(name: str, kind: type[logging.Filter]) -> Iterator[None]:
    logger = logging.getLogger(name)
    removed = [f for f in logger.filters if isinstance(f, kind)]
    for f in removed:
        logger.removeFilter(f)
    try:
        yield
    finally:
        for f in removed:
            logger.addFilter(f)


@pytest.mark.parametrize(
    "package, tested", [*pipeline_compat.TESTED.items(), *serving_compat.TESTED.items()], ids=lambda v: str(v)
)
def test_the_installed_versions_are_the_tested_ones(package, tested):
    assert pipeline_compat.installed(package) == tested, (
        f"{package} is now {pipeline_compat.installed(package)}: check its workarounds (this file), then update TESTED"
    )


def test_another_version_is_warned_about_once(caplog):
    with caplog.at_level(logging.WARNING, logger=pipeline_compat.__name__):
        assert pipeline_compat.check_tested("transformers", "0.0.1", "a test") is False
        assert pipeline_compat.check_tested("transformers", "0.0.1", "a test") is False
    assert len(caplog.records) == 1 and "checked on 0.0.1" in caplog.records[0].getMessage()
    assert pipeline_compat.check_tested("no-such-package-textclf", "1.0", "a test") is True


# transformers: the false fix_mistral_regex warning --------------------------------------------------------------


@pytest.fixture(scope="module")
def large_vocab_tokenizer(tmp_path_factory) -> str:
    """A fast tokenizer of 100,001 words (the check starts above 100,000) with the config.json transformers writes."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("large-vocab")
    tokenizer = Tokenizer(models.WordLevel({f"w{i}": i for i in range(100_001)}, unk_token="w0"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer).save_pretrained(folder)
    BertConfig(vocab_size=100_001, hidden_size=8, num_hidden_layers=1, num_attention_heads=1).save_pretrained(folder)
    return str(folder)


def test_transformers_still_warns_about_mistral_regex_for_a_bert_folder(large_vocab_tokenizer):
    """Fails once transformers stops warning: then NotAMistralTokenizer is no longer needed."""
    from transformers import PreTrainedTokenizerFast

    with (
        _without_filters(pipeline_compat.MISTRAL_REGEX_LOGGER, pipeline_compat.NotAMistralTokenizer),
        _recorded(pipeline_compat.MISTRAL_REGEX_LOGGER) as records,
    ):
        PreTrainedTokenizerFast.from_pretrained(large_vocab_tokenizer)
    assert [r for r in records if "fix_mistral_regex" in r.getMessage()], (
        "transformers no longer warns: drop the filter"
    )


def test_the_filter_hides_the_mistral_regex_warning(large_vocab_tokenizer):
    from transformers import PreTrainedTokenizerFast

    logger = logging.getLogger(pipeline_compat.MISTRAL_REGEX_LOGGER)
    assert [f for f in logger.filters if isinstance(f, pipeline_compat.NotAMistralTokenizer)], "not installed"
    with _recorded(pipeline_compat.MISTRAL_REGEX_LOGGER) as records:
        PreTrainedTokenizerFast.from_pretrained(large_vocab_tokenizer)
    assert not [r for r in records if "fix_mistral_regex" in r.getMessage()]


# BentoML: the private batching dispatcher -----------------------------------------------------------------------


def test_the_private_dispatcher_takes_what_compat_passes():
    parameters = inspect.signature(serving_compat.CorkDispatcher).parameters
    assert set(serving_compat.DISPATCHER_PARAMETERS) <= set(parameters)
    sema = serving_compat.NonBlockSema(2)
    assert sema.acquire() and sema.acquire() and sema.is_locked()
    sema.release()
    assert not sema.is_locked()


def _most_batches_at_once(dispatcher) -> int:
    """Six one-text requests, one per batch, each batch taking 50 ms: how many batches ran at the same time."""
    running, most = 0, 0

    async def infer(requests):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return [len(r) for r in requests]

    async def main() -> list[int]:
        batched = dispatcher(infer)
        try:
            return await asyncio.gather(*(batched(["text"]) for _ in range(6)))
        finally:
            dispatcher.shutdown()

    assert asyncio.run(main()) == [1] * 6
    return most


def test_batching_dispatcher_runs_batches_concurrently():
    """Fails when BentoML's dispatcher stops honouring the semaphore: the workaround no longer works."""
    dispatcher = serving_compat.batching_dispatcher(
        max_latency_ms=10_000, max_batch_size=1, concurrent_batches=2, fallback=lambda: None, get_batch_size=len
    )
    assert _most_batches_at_once(dispatcher) == 2


def test_bentoml_still_runs_one_batch_at_a_time():
    """Fails when BentoML's own dispatcher (what `batchable=True` gets) runs batches concurrently, or its public
    API gains a setting: then batching_dispatcher may no longer be needed."""
    import bentoml

    default = serving_compat.CorkDispatcher(10_000, 1, fallback=lambda: None, get_batch_size=len)
    assert _most_batches_at_once(default) == 1
    known = {
        "func",
        "route",
        "name",
        "input_spec",
        "output_spec",
        "batchable",
        "batch_dim",
        "max_batch_size",
        "max_latency_ms",
    }
    assert set(inspect.signature(bentoml.api).parameters) == known, (
        "bentoml.api changed: is there a public setting now?"
    )


# BentoML: the client-error log filter ---------------------------------------------------------------------------


def _log_like_bentoml(exc: Exception) -> None:
    """Call BentoML's own `log_exception` for a POST /classify that raised `exc`, as its service app does."""
    from _bentoml_impl.server import app as service_app
    from bentoml._internal.server.http_app import log_exception
    from starlette.requests import Request

    assert service_app.log_exception is log_exception, "the service app no longer logs through http_app"
    request = Request({"type": "http", "method": "POST", "path": "/classify", "headers": [], "query_string": b""})
    try:
        raise exc
    except Exception:  # noqa: BLE001 - BentoML logs whatever the API raised, from inside the except
        log_exception(request, sys.exc_info())


def test_bentoml_still_logs_client_errors_as_error_with_traceback():
    """Fails when BentoML logs another record (or elsewhere): the filter would then filter nothing."""
    from bentoml.exceptions import InvalidArgument

    with (
        _without_filters(serving_compat.BENTOML_ERROR_LOGGER, ClientErrorFilter),
        _recorded(serving_compat.BENTOML_ERROR_LOGGER) as records,
    ):
        _log_like_bentoml(InvalidArgument("texts is empty"))
    assert len(records) == 1, "BentoML no longer logs a client error there: is the filter still needed?"
    record = records[0]
    assert record.levelno == logging.ERROR and record.exc_info and record.exc_info[0] is InvalidArgument
    assert serving_compat.failed_request(record) == ("POST", "/classify")


def test_the_filter_turns_bentomls_record_into_one_info_line():
    from bentoml.exceptions import InvalidArgument

    serving_compat.add_error_log_filter(ClientErrorFilter())
    serving_compat.add_error_log_filter(ClientErrorFilter())
    logger = logging.getLogger(serving_compat.BENTOML_ERROR_LOGGER)
    assert len([f for f in logger.filters if isinstance(f, ClientErrorFilter)]) == 1
    requests_logger = logging.getLogger("bentoml.textclf.requests")
    level = requests_logger.level
    requests_logger.setLevel(logging.INFO)
    try:
        with (
            _recorded(serving_compat.BENTOML_ERROR_LOGGER) as errors,
            _recorded("bentoml.textclf.requests") as lines,
        ):
            _log_like_bentoml(InvalidArgument("texts is empty"))
            _log_like_bentoml(RuntimeError("onnxruntime failed"))
    finally:
        requests_logger.setLevel(level)
    assert [r.getMessage() for r in lines] == ["400 POST /classify: texts is empty"]
    assert [r.exc_info[0] for r in errors] == [RuntimeError]


def test_serve_bind_host_reads_the_serve_commands_host(monkeypatch):
    """`bentoml serve` still takes `--host` or BENTOML_HOST and, given neither, leaves it to serve_http, which binds
    the configured http.host; a worker's command still has no host. That the service module is imported inside
    the serve command is checked over real HTTP: tests/test_api_key.py finds the startup line only that process
    writes."""
    from _bentoml_impl.server.serving import serve_http
    from _bentoml_impl.worker.service import main as worker
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml_cli.cli import create_bentoml_cli

    monkeypatch.delenv("BENTOML_HOST", raising=False)
    # parsing the command's options runs its verbosity callback, which reconfigures logging for the whole process
    # (dictConfig with disable_existing_loggers) and silences loggers later tests read; not what is tested here
    monkeypatch.setattr("bentoml._internal.log.configure_logging", lambda: None)
    serve = create_bentoml_cli().commands["serve"]
    assert inspect.signature(serve_http).parameters["host"].default.get() == BentoMLContainer.http.host.get()
    assert serving_compat.serve_bind_host() is None  # no command at all
    for args, expected in ((["svc:S", "--host", "10.0.0.7"], "10.0.0.7"), (["svc:S"], BentoMLContainer.http.host.get())):
        with serve.make_context("serve", args):
            assert serving_compat.serve_bind_host() == expected
    monkeypatch.setenv("BENTOML_HOST", "::")
    with serve.make_context("serve", ["svc:S"]):
        assert serving_compat.serve_bind_host() == "::"
    with worker.make_context("service", ["svc:S", "--fd", "3"]):
        assert serving_compat.serve_bind_host() is None
