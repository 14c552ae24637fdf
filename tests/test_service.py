"""The BentoML service through its ASGI app: answers, order, every bad input, metadata and health."""

import pytest
from starlette.testclient import TestClient

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import ArtifactError, Predictor


@pytest.fixture(scope="module")
def client(bento_model):
    from serving.service import TextClassifier

    with TestClient(TextClassifier.to_asgi()) as test_client:
        yield test_client


def test_answers_match_the_predictor_in_order(client, pipeline_run):
    cfg = pipeline_run["cfg"]
    texts = read_split(cfg.paths.data, "test")["text"].tolist()[:40]
    response = client.post("/classify", json={"texts": texts, "top_k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    # The same length-sorted batches of 16 as the service: dynamic int8 quantizes activations per call,
    # so scores depend (slightly) on which texts share a batch.
    expected = Predictor(cfg.paths.export).predict(texts, top_k=3, batch_size=16)
    assert [r["label"] for r in body] == [p.label for p in expected]
    for got, want in zip(body, expected, strict=True):
        assert got["score"] == pytest.approx(want.score, abs=1e-5)
        assert [t["label"] for t in got["top_k"]] == [t["label"] for t in want.top_k]
        assert got["truncated"] == want.truncated


def test_hard_but_valid_texts(client):
    texts = ["emoji only 😀🎉🚀", "مرحبا بالعالم", "שלום עולם", "mixed Ελληνικά и русский 中文", "word " * 2_000]
    response = client.post("/classify", json={"texts": texts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body) == 5
    assert body[-1]["truncated"] is True and body[0]["truncated"] is False


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"texts": []}, 400, "texts is empty"),
        ({"texts": ["a"] * 65}, 400, "too many texts: 65 > 64"),
        ({"texts": ["ok", ""]}, 400, "texts[1] is empty or whitespace only"),
        ({"texts": [" \t\n "]}, 400, "texts[0] is empty or whitespace only"),
        ({"texts": ["y" * 20_001]}, 400, "texts[0] has 20001 characters, over 20000"),
        ({"texts": ["ok", 3]}, 400, "Input should be a valid string"),
        ({"texts": ["ok", None]}, 400, "Input should be a valid string"),
        ({"texts": "just a string"}, 400, "Input should be a valid array"),
        (["a", "list"], 400, "Input should be an object"),
        ({"text": ["wrong key"]}, 400, "Field required"),
        ({"texts": ["ok"], "top_k": 0}, 400, "top_k must be between 1 and 6"),
        ({"texts": ["ok"], "top_k": 7}, 400, "top_k must be between 1 and 6"),
        ({"texts": ["ok"], "top_k": "two"}, 400, "valid integer"),
    ],
)
def test_bad_input_is_a_clear_400(client, body, status, message):
    response = client.post("/classify", json=body)
    assert response.status_code == status, response.text
    assert message in response.text


@pytest.mark.parametrize(
    ("raw", "message"), [(b"{not json", "Invalid JSON"), (b'{"texts": ["\xff\xfe"]}', "Invalid JSON"), (b"", "Field required")]
)
def test_unparseable_bodies_are_400(client, raw, message):
    response = client.post("/classify", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.text


def test_server_keeps_serving_after_bad_input(client):
    client.post("/classify", json={"texts": [None]})
    client.post("/classify", content=b"\x00\x01", headers={"content-type": "application/json"})
    assert client.post("/classify", json={"texts": ["still here"]}).status_code == 200


def test_metadata_and_health(client, pipeline_run):
    meta = client.get("/v1/metadata").json()
    manifest = Predictor(pipeline_run["cfg"].paths.export).manifest
    assert meta["labels"] == manifest["labels"]
    assert meta["mlflow_run_id"] == manifest["mlflow_run_id"]
    assert meta["quantized"] is True
    assert meta["max_length"] == pipeline_run["cfg"].model.max_length
    assert meta["temperature"] == manifest["calibration"]["temperature"] and meta["abstain_below"] is None
    assert meta["metrics"]["test_accuracy"] == manifest["metrics"]["test_accuracy"]
    assert meta["model_tag"].startswith("textclf:")
    assert sum(meta["batch_sizes"].values()) >= 1
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_text_in_scripts_training_never_saw_is_unknown(client, pipeline_run):
    """Khmer, Lao and Tibetan: no script of the tiny export's languages (tests/test_unseen_scripts.py has the rest)."""
    texts = ["សួស្តី ពិភពលោក", "Guten Morgen, wie geht es dir?", "ສະບາຍດີ ຂ້ອຍຮັກພາສາລາວ", "བཀྲ་ཤིས་བདེ་ལེགས།"]
    response = client.post("/classify", json={"texts": texts, "top_k": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    predictor = Predictor(pipeline_run["cfg"].paths.export)
    assert [r["label"] for r in body] == ["unknown", predictor.predict(texts[1:2])[0].label, "unknown", "unknown"]
    assert all(len(r["top_k"]) == 2 and {t["label"] for t in r["top_k"]} <= set(predictor.labels) for r in body)
    meta = client.get("/v1/metadata").json()
    assert meta["unseen_scripts_unknown"] is True and meta["known_scripts"] == predictor.manifest["scripts"]


def test_importing_a_broken_export_fails_clearly(tmp_path):
    from serving.model_store import import_export

    with pytest.raises(ArtifactError, match="export folder not found"):
        import_export(tmp_path / "missing")
