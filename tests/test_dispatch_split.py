"""The batching dispatcher splits a request that does not fit the room left in a batch; its halves must join
back into one answer per text, in order. Uniform requests that divide the batch size never split, so this
drives the split on purpose: a batch size of 5 and requests of 1 to 4 texts."""

import asyncio

import pytest

from pipeline.data.prepared import read_split
from pipeline.runtime.predictor import Predictor


def test_split_requests_answer_like_the_predictor_in_order(bento_model, pipeline_run, monkeypatch):
    import serving.service as service

    monkeypatch.setattr(service, "SETTINGS", service.SETTINGS.model_copy(update={"max_batch_size": 5, "quantized": False}))
    classifier = service.TextClassifier.inner()
    texts = read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()
    requests, start = [], 0
    for size in (3, 4, 2, 4, 1, 3, 4):  # 3+4 > 5: the second request is split, and so on down the queue
        requests.append(texts[start : start + size])
        start += size

    async def classify_all() -> list[list[dict]]:
        return await asyncio.gather(*(classifier.classify(texts=chunk, top_k=2) for chunk in requests))

    answers = asyncio.run(classify_all())
    predictor = Predictor(pipeline_run["cfg"].paths.export, quantized=False)
    for chunk, answer in zip(requests, answers, strict=True):
        expected = predictor.predict(chunk, top_k=2)
        assert [a["label"] for a in answer] == [p.label for p in expected]
        assert [a["score"] for a in answer] == pytest.approx([p.score for p in expected], abs=1e-4)
    sizes = set(classifier.batch_sizes)
    assert max(sizes) == 5, f"no batch was filled by splitting a request: {classifier.batch_sizes}"
