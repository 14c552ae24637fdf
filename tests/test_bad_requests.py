"""Bad requests over real HTTP: each gets a 4xx with a message that says what is wrong, is logged as one INFO
line (no traceback), and the server stays up."""

import http.client
import json
import logging
import os
import re
import sys
import urllib.parse

import pytest
from bentoml.exceptions import InvalidArgument

from serving.request_log import BENTOML_ERROR_LOGGER, ClientErrorFilter
from tools.local_server import running_server

OK = '"texts": ["ok"]'
NESTED = b"[" * 100_000 + b"]" * 100_000


def body(raw: str | bytes) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()


# (id, method, path, content type, body, status, message in the answer)
CASES = [
    ("empty list", "POST", "/classify", "application/json", '{"texts": []}', 400, "texts is empty"),
    ("65 texts", "POST", "/classify", "application/json", json.dumps({"texts": ["a"] * 65}), 400, "too many texts: 65 > 64"),
    ("100,000 texts", "POST", "/classify", "application/json", json.dumps({"texts": ["a"] * 100_000}), 400, "too many texts: 100000 > 64"),
    ("empty text among good", "POST", "/classify", "application/json", '{"texts": ["ok", "", "fine"]}', 400, "texts[1] is empty"),
    ("whitespace text among good", "POST", "/classify", "application/json", '{"texts": ["ok", " \\t\\n "]}', 400, "texts[1] is empty or whitespace"),
    ("number among good", "POST", "/classify", "application/json", '{"texts": ["ok", 3]}', 400, "valid string"),
    ("null among good", "POST", "/classify", "application/json", '{"texts": ["ok", null]}', 400, "valid string"),
    ("list among good", "POST", "/classify", "application/json", '{"texts": ["ok", ["x"]]}', 400, "valid string"),
    ("object among good", "POST", "/classify", "application/json", '{"texts": ["ok", {"t": "x"}]}', 400, "valid string"),
    ("texts a string", "POST", "/classify", "application/json", '{"texts": "just a string"}', 400, "valid array"),
    ("texts a number", "POST", "/classify", "application/json", '{"texts": 42}', 400, "valid array"),
    ("texts an object", "POST", "/classify", "application/json", '{"texts": {"a": "b"}}', 400, "valid array"),
    ("texts null", "POST", "/classify", "application/json", '{"texts": null}', 400, "valid array"),
    ("texts missing", "POST", "/classify", "application/json", '{"text": ["wrong key"]}', 400, "Field required"),
    ("empty object", "POST", "/classify", "application/json", "{}", 400, "Field required"),
    ("empty body", "POST", "/classify", "application/json", "", 400, "Field required"),
    ("top level list", "POST", "/classify", "application/json", '["a", "list"]', 400, "Input should be an object"),
    ("top level null", "POST", "/classify", "application/json", "null", 400, "Input should be an object"),
    ("invalid json", "POST", "/classify", "application/json", "{oops", 400, "Invalid JSON"),
    ("truncated json", "POST", "/classify", "application/json", '{"texts": ["abc", "de', 400, "Invalid JSON"),
    ("invalid utf-8", "POST", "/classify", "application/json", b'{"texts": ["\xff\xfe"]}', 400, "Invalid JSON"),
    # pydantic's JSON parser refuses a lone surrogate at the end of a string; the service refuses the rest.
    ("lone surrogate", "POST", "/classify", "application/json", '{"texts": ["\\ud800"]}', 400, "Invalid JSON"),
    ("lone surrogate among good", "POST", "/classify", "application/json", '{"texts": ["ok", "a\\udc00b"]}', 400, "surrogate"),
    ("100,000 nested brackets", "POST", "/classify", "application/json", NESTED, 400, "recursion limit"),
    ("nested brackets in texts", "POST", "/classify", "application/json", b'{"texts": ' + NESTED + b"}", 400, "recursion limit"),
    ("20,001 characters", "POST", "/classify", "application/json", json.dumps({"texts": ["y" * 20_001]}), 400, "texts[0] has 20001 characters, over 20000"),
    ("5 MB text", "POST", "/classify", "application/json", json.dumps({"texts": ["ok", "z" * 5_000_000]}), 400, "texts[1] has 5000000 characters"),
    ("top_k 0", "POST", "/classify", "application/json", "{%s, \"top_k\": 0}" % OK, 400, "top_k must be between 1 and 6"),
    ("top_k negative", "POST", "/classify", "application/json", "{%s, \"top_k\": -3}" % OK, 400, "top_k must be between 1 and 6"),
    ("top_k over labels", "POST", "/classify", "application/json", "{%s, \"top_k\": 7}" % OK, 400, "top_k must be between 1 and 6"),
    ("top_k huge", "POST", "/classify", "application/json", "{%s, \"top_k\": 100000000000000000000}" % OK, 400, "top_k must be between"),
    ("top_k NaN", "POST", "/classify", "application/json", "{%s, \"top_k\": NaN}" % OK, 400, "top_k"),
    ("top_k Infinity", "POST", "/classify", "application/json", "{%s, \"top_k\": Infinity}" % OK, 400, "top_k"),
    ("top_k float", "POST", "/classify", "application/json", "{%s, \"top_k\": 1.5}" % OK, 400, "valid integer"),
    ("top_k whole float", "POST", "/classify", "application/json", "{%s, \"top_k\": 2.0}" % OK, 400, "valid integer"),
    ("top_k bool", "POST", "/classify", "application/json", "{%s, \"top_k\": true}" % OK, 400, "valid integer"),
    ("top_k string", "POST", "/classify", "application/json", "{%s, \"top_k\": \"two\"}" % OK, 400, "valid integer"),
    ("top_k list", "POST", "/classify", "application/json", "{%s, \"top_k\": [2]}" % OK, 400, "valid integer"),
    ("top_k null", "POST", "/classify", "application/json", "{%s, \"top_k\": null}" % OK, 400, "valid integer"),
    ("text/plain body", "POST", "/classify", "text/plain", "hello there", 400, "Invalid JSON"),
    ("xml body", "POST", "/classify", "application/xml", "<texts><t>hello</t></texts>", 400, "Invalid JSON"),
    ("form-urlencoded body", "POST", "/classify", "application/x-www-form-urlencoded", "texts=hello", 400, "texts"),
    ("pickle body", "POST", "/classify", "application/vnd.bentoml+pickle", b"\x80\x04N.", 415, "not allowed"),
    ("GET /classify", "GET", "/classify", None, None, 405, "Method Not Allowed"),
    ("PUT /classify", "PUT", "/classify", "application/json", '{"texts": ["ok"]}', 405, "Method Not Allowed"),
    ("DELETE /classify", "DELETE", "/classify", None, None, 405, "Method Not Allowed"),
    ("unknown path", "POST", "/classify2", "application/json", '{"texts": ["ok"]}', 404, "Not Found"),
    ("unknown GET path", "GET", "/v1/nothing-here", None, None, 404, "Not Found"),
]


@pytest.fixture(scope="module")
def server(bento_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("bad-requests") / "bentoml.log"
    env = {"TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"]}
    with running_server(env=env, log=log) as url:
        yield url, log


def send(url: str, method: str, path: str, content_type: str | None, payload: bytes | None) -> tuple[int, str]:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        headers = {"content-type": content_type} if content_type else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@pytest.mark.parametrize(("method", "path", "content_type", "payload", "status", "message"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_is_a_clear_4xx_and_the_server_stays_up(server, method, path, content_type, payload, status, message):
    url, _ = server
    got, text = send(url, method, path, content_type, None if payload is None else body(payload))
    assert (got, message in text) == (status, True), text[:500]
    assert send(url, "GET", "/readyz", None, None)[0] == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(server):
    url, _ = server
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.putrequest("POST", "/classify")
        connection.putheader("content-type", "application/json")
        connection.putheader("content-length", str(16 * 1024 * 1024 + 1))
        connection.endheaders()  # no body sent: the answer must not wait for it
        response = connection.getresponse()
        assert response.status == 413
        assert "TEXTCLF_MAX_BODY_BYTES" in response.read().decode()
    finally:
        connection.close()
    assert send(url, "POST", "/classify", "application/json", b'{"texts": ["still up"]}')[0] == 200


def test_unknown_fields_are_ignored_as_bentoml_does(server):
    url, _ = server
    status, text = send(url, "POST", "/classify", "application/json", b'{"texts": ["ok"], "language": "en"}')
    assert status == 200 and len(json.loads(text)) == 1


def test_client_errors_are_one_info_line_without_a_traceback(server):
    url, log = server
    for top_k in (1001, 1002, 1003):
        assert send(url, "POST", "/classify", "application/json", json.dumps({"texts": ["ok"], "top_k": top_k}).encode())[0] == 400
    assert send(url, "POST", "/classify", "application/json", b'{"texts": "not a list 4242"}')[0] == 400
    assert send(url, "POST", "/classify", "application/json", b'{"texts": ["ok", "     "]}')[0] == 400
    assert send(url, "GET", "/readyz", None, None)[0] == 200  # the log is written before the next answer
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    for reason in ("got 1001", "got 1002", "got 1003"):
        lines = [line for line in text.splitlines() if reason in line]
        assert len(lines) == 1 and re.search(r"INFO.*400 POST /classify: top_k must be between", lines[0]), lines
    assert re.search(r"INFO.*400 POST /classify: texts: Input should be a valid array", text)
    assert re.search(r"INFO.*400 POST /classify: texts\[1\] is empty or whitespace only", text)


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:  # noqa: BLE001 - any exception, to build the record BentoML would log
        info = sys.exc_info()
    return logging.LogRecord(BENTOML_ERROR_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/classify", "POST"), info)


def test_server_errors_keep_their_error_and_traceback():
    record = _record(RuntimeError("onnxruntime failed"))
    assert ClientErrorFilter().filter(record) is True
    assert record.levelno == logging.ERROR and record.exc_info[0] is RuntimeError


def test_client_errors_become_info(caplog):
    with caplog.at_level(logging.INFO, logger="bentoml.textclf.requests"):
        assert ClientErrorFilter().filter(_record(InvalidArgument("texts is empty"))) is False
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, "400 POST /classify: texts is empty")]
