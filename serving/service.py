"""The classify service: validation in front, adaptive batching behind.

`classify` checks each request on its own, so one bad request gets its own 400 and never fails a batch
shared with other clients. It then calls `infer`, a batchable API, through the service's own client, so
BentoML's dispatcher merges the texts of concurrent requests into one onnxruntime call.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Annotated, Any

import bentoml
import numpy as np
from bentoml.exceptions import InvalidArgument
from fastapi import FastAPI
from pydantic import Field

from pipeline.predictor import Predictor, softmax
from serving.settings import SETTINGS

log = logging.getLogger("bentoml.textclf")
info_app = FastAPI(title="textclf info")


@bentoml.asgi_app(info_app, path="/v1")
@bentoml.service(traffic={"timeout": 60}, workers=1)
class TextClassifier:
    bento_model = bentoml.models.BentoModel(SETTINGS.model_tag)

    def __init__(self) -> None:
        self.predictor = Predictor(self.bento_model.path, quantized=SETTINGS.quantized)
        self.batch_sizes: Counter[int] = Counter()

    @bentoml.api(route="/classify")
    async def classify(
        self,
        texts: Annotated[list[str], Field(description="Texts to classify, in order.")],
        top_k: Annotated[int, Field(description="How many ranked labels to return per text.")] = 1,
    ) -> list[dict[str, Any]]:
        """Classify texts: one prediction per text, in input order."""
        self._validate(texts, top_k)
        rows = await self.to_async.infer(texts)
        probs = np.array([r["probs"] for r in rows], dtype=np.float32)
        return [p.to_dict() for p in self.predictor.rank(probs, [r["truncated"] for r in rows], top_k)]

    def _validate(self, texts: list[str], top_k: int) -> None:
        if not texts:
            raise InvalidArgument("texts is empty: send at least one text")
        if len(texts) > SETTINGS.max_items:
            raise InvalidArgument(f"too many texts: {len(texts)} > {SETTINGS.max_items} (TEXTCLF_MAX_ITEMS)")
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"texts[{i}] is empty or whitespace only")
            if len(text) > SETTINGS.max_chars:
                raise InvalidArgument(f"texts[{i}] has {len(text)} characters, over {SETTINGS.max_chars} (TEXTCLF_MAX_CHARS)")
        try:
            self.predictor.check_top_k(top_k)
        except ValueError as err:
            raise InvalidArgument(str(err)) from None

    @bentoml.api(batchable=True, max_batch_size=SETTINGS.max_batch_size, max_latency_ms=SETTINGS.max_latency_ms)
    def infer(self, texts: list[str]) -> list[dict[str, Any]]:
        """Batched inference behind classify: class probabilities and a truncation flag per text."""
        self.batch_sizes[len(texts)] += 1
        log.debug("batch of %d texts", len(texts))
        logits, truncated = self.predictor.logits(texts)
        return [{"probs": p.tolist(), "truncated": t} for p, t in zip(softmax(logits), truncated)]

    @info_app.get("/metadata")
    def metadata(self) -> dict[str, Any]:
        """What is being served: labels, model, MLflow run, quantization, limits, test scores, batch sizes."""
        manifest = self.predictor.manifest
        return {
            "model_name": manifest.get("model_name"),
            "model_tag": str(self.bento_model.tag),
            "labels": self.predictor.labels,
            "mlflow_run_id": manifest.get("mlflow_run_id"),
            "quantized": self.predictor.variant == "int8",
            "max_length": self.predictor.max_length,
            "metrics": manifest.get("metrics", {}),
            "limits": {"max_items": SETTINGS.max_items, "max_chars": SETTINGS.max_chars},
            "batch_sizes": {str(size): n for size, n in sorted(self.batch_sizes.items())},
        }
