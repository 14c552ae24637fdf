"""The API key over real HTTP (one `bentoml serve` with a key and a key file of two more), the middleware on its
own, and what the server says at start."""

import http.client
import json
import logging
import os
import re
import secrets
import urllib.parse

import bentoml
import pytest
from bentoml.exceptions import BentoMLException
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from serving import auth
from serving.auth import MISSING, NOT_BEARER, SEVERAL, WRONG, ApiKey
from tools.local_server import running_server

ENV_KEY = secrets.token_urlsafe(24)
FILE_KEYS = (secrets.token_urlsafe(24), secrets.token_urlsafe(24))  # rotating: the old and the new key
WRONG_KEY = ENV_KEY[:-1] + ("A" if ENV_KEY[-1] != "A" else "B")  # one character off
TELEMETRY_OFF = {"BENTOML_DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
TEXTS = ["Привет, как дела у тебя сегодня?", "مرحبا بكم في بيتنا الجميل"]


@pytest.fixture(scope="module")
def server(bento_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-key")
    key_file = folder / "keys"
    key_file.write_text(f"# rotated 2026-12-01: the old key until clients move\n{FILE_KEYS[0]}\n\n  {FILE_KEYS[1]}  \n")
    log = folder / "bentoml.log"
    env = {"TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"],
           "TEXTCLF_API_KEY": ENV_KEY, "TEXTCLF_API_KEY_FILE": str(key_file), **TELEMETRY_OFF}
    with running_server(env=env, log=log) as url:
        yield url, log


def send(url: str, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def classify(url: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, str]:
    body = json.dumps({"texts": TEXTS}).encode()
    return send(url, "POST", "/classify", {"content-type": "application/json", **headers}, body)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, MISSING),
        (bearer(WRONG_KEY), WRONG),
        ({"x-api-key": ENV_KEY}, MISSING),
        ({"authorization": ENV_KEY}, NOT_BEARER),
        ({"authorization": f"Token {ENV_KEY}"}, NOT_BEARER),
        ({"authorization": "Bearer "}, NOT_BEARER),
    ],
    ids=["no key", "wrong key", "X-API-Key header", "no Bearer", "another scheme", "Bearer without key"],
)
def test_a_request_without_the_key_gets_a_401_that_says_why(server, headers, reason):
    url, _ = server
    status, answer_headers, text = classify(url, headers)
    assert (status, json.loads(text)) == (401, {"error": reason})
    assert answer_headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", [ENV_KEY, *FILE_KEYS], ids=["TEXTCLF_API_KEY", "file key 1", "file key 2"])
def test_every_key_is_accepted(server, key):
    url, _ = server
    status, _, text = classify(url, bearer(key))
    assert status == 200, text
    assert [answer["label"] for answer in json.loads(text)] == ["ru", "ar"]


def test_the_scheme_is_case_insensitive(server):
    url, _ = server
    assert classify(url, {"authorization": f"bearer {ENV_KEY}"})[0] == 200


@pytest.mark.parametrize("path", ["/v1/metadata", "/", "/docs.json", "/schema.json"])
def test_the_mounted_app_and_the_docs_need_the_key_too(server, path):
    url, _ = server
    assert send(url, "GET", path)[0] == 401
    assert send(url, "GET", path, bearer(FILE_KEYS[1]))[0] == 200


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics"])
def test_the_probes_and_metrics_stay_open(server, path):
    url, _ = server
    assert send(url, "GET", path)[0] == 200


def test_refusals_are_logged_at_info_without_any_key(server):
    url, log = server
    assert classify(url, bearer(WRONG_KEY))[0] == 401
    assert send(url, "GET", "/v1/metadata", {"x-api-key": ENV_KEY})[0] == 401
    assert classify(url, bearer(ENV_KEY))[0] == 200
    assert send(url, "GET", "/readyz")[0] == 200  # the log is written before the next answer
    text = log.read_text(encoding="utf-8", errors="replace")
    assert re.search(rf"INFO.*401 POST /classify: {re.escape(WRONG)} \(client 127\.0\.0\.1\)", text)
    assert re.search(rf"INFO.*401 GET /v1/metadata: {re.escape(MISSING)} \(client 127\.0\.0\.1\)", text)
    assert re.search(r"INFO.*every route but /healthz, /livez, /metrics, /readyz needs an API key: 3 accepted", text)
    for key in (ENV_KEY, *FILE_KEYS, WRONG_KEY):
        assert key not in text
    assert "Traceback" not in text


def test_bentoml_client_sends_the_key_as_its_token(server, monkeypatch):
    url, log = server
    monkeypatch.delenv("BENTO_CLOUD_API_KEY", raising=False)  # the client's fallback for a missing token
    with bentoml.SyncHTTPClient(url, token=FILE_KEYS[0]) as client:
        answers = client.classify(texts=TEXTS, top_k=2)
    assert [answer["label"] for answer in answers] == ["ru", "ar"]
    assert all(len(answer["top_k"]) == 2 for answer in answers)
    # The client reads the service's schema as it starts, and /schema.json is closed too: without the key, or
    # with a wrong one, it fails there, and the server's log says why.
    for token, reason in ((None, MISSING), (WRONG_KEY, WRONG)):
        with pytest.raises(BentoMLException, match=r"Failed to fetch schema from .*/schema\.json"):
            bentoml.SyncHTTPClient(url, token=token)
        assert send(url, "GET", "/readyz")[0] == 200  # the log is written before the next answer
        assert re.search(rf"INFO.*401 GET /schema\.json: {re.escape(reason)}", log.read_text())


def test_a_missing_key_file_stops_the_server_naming_the_file(bento_model, tmp_path):
    missing, log = tmp_path / "no-such-keys", tmp_path / "bentoml.log"
    env = {"TEXTCLF_MODEL": str(bento_model.tag), "BENTOML_HOME": os.environ["BENTOML_HOME"],
           "TEXTCLF_API_KEY_FILE": str(missing), **TELEMETRY_OFF}
    with pytest.raises(RuntimeError, match="exited with"), running_server(env=env, log=log):
        pass
    assert f"TEXTCLF_API_KEY_FILE names a file that does not exist, got '{missing}'" in log.read_text()


# The middleware on its own, in front of a small app.


def _app(keys=("k1", "k2")) -> ApiKey:
    async def hello(_request):
        return PlainTextResponse("hello")

    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return ApiKey(Starlette(routes=[Route("/hello", hello), Route("/livez", hello), WebSocketRoute("/ws", echo)]), keys)


def test_several_authorization_headers_are_refused():
    client = TestClient(_app())
    response = client.get("/hello", headers=[("authorization", "Bearer k1"), ("authorization", "Bearer k2")])
    assert (response.status_code, response.json()) == (401, {"error": SEVERAL})
    assert client.get("/hello", headers=bearer("k2")).text == "hello"
    assert client.get("/livez").text == "hello"


def test_a_refusal_logs_the_path_as_sent_so_it_cannot_forge_a_line(caplog):
    with caplog.at_level(logging.INFO, logger="bentoml.textclf.requests"):
        assert TestClient(_app()).get("/hello%0A2026-12-01 [INFO] forged").status_code == 401
    assert [r.getMessage() for r in caplog.records if r.name == "bentoml.textclf.requests"] == [
        f"401 GET /hello%0A2026-12-01%20[INFO]%20forged: {MISSING} (client testclient)"
    ]


def test_every_key_is_compared_even_after_a_match(monkeypatch):
    compared = []

    def counting(a, b):
        compared.append(a)
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    middleware = _app(keys=("k1", "k2", "k3"))
    assert middleware.refusal([b"Bearer k1"]) is None
    assert len(compared) == 3 and all(len(digest) == 32 for digest in compared)  # digests: one length, any key
    assert middleware.refusal([b"Bearer k1-but-longer"]) == WRONG


def test_a_websocket_without_the_key_is_closed_before_it_opens():
    client = TestClient(_app())
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1008
    with client.websocket_connect("/ws", headers=bearer("k1")) as websocket:
        assert websocket.receive_text() == "hello"


def test_no_keys_is_a_mistake_not_an_open_door():
    with pytest.raises(ValueError, match="at least one key"):
        _app(keys=())


# What the server says at start.


@pytest.mark.parametrize(
    ("host", "keys", "expected"),
    [
        ("0.0.0.0", (), (logging.WARNING, "listens on 0.0.0.0, beyond loopback")),
        ("::", (), (logging.WARNING, "listens on ::, beyond loopback")),
        ("10.1.2.3", (), (logging.WARNING, "listens on 10.1.2.3, beyond loopback")),
        ("127.0.0.1", (), None),
        ("::1", (), None),
        ("localhost", (), None),
        ("0.0.0.0", ("k1", "k2"), (logging.INFO, "needs an API key: 2 accepted")),
        (None, (), None),  # a worker, or an import outside `bentoml serve`
    ],
)
def test_the_server_warns_when_it_listens_beyond_loopback_without_a_key(monkeypatch, caplog, host, keys, expected):
    monkeypatch.setattr(auth, "serve_bind_host", lambda: host)
    with caplog.at_level(logging.DEBUG, logger=auth.log.name):
        auth.announce(keys)
    got = [(record.levelno, record.getMessage()) for record in caplog.records if record.name == auth.log.name]
    if expected is None:
        assert got == []
    else:
        assert len(got) == 1 and got[0][0] == expected[0] and expected[1] in got[0][1], got
        assert "k1" not in got[0][1]
