"""The classify service: validation in front, adaptive batching behind.

`classify` checks each request on its own, so one bad request gets its own 400 and never fails a batch
shared with other clients. Valid requests then go through BentoML's adaptive batching dispatcher (the
CorkDispatcher behind `batchable=True` APIs), which merges the texts of concurrent requests into one
length-sorted inference batch. It is used directly, not through a second batchable endpoint: BentoML's
self-client for that pattern dropped requests under 16 concurrent clients ("Cannot write to closing
transport"), and a second HTTP hop per request halves throughput on a 2-core machine.

BentoML's dispatcher runs one batch at a time by default; this one lets `TEXTCLF_CONCURRENT_BATCHES` (2)
run at once, so onnxruntime works on one batch while the event loop parses requests and writes the
responses of the other. With one at a time the cores sat idle between batches; compare the two with
`TEXTCLF_CONCURRENT_BATCHES=1 make bench` against `make bench` (the bench's server inherits the variable).
Both the dispatcher and the semaphore are BentoML internals: serving/compat.py builds them, with the reasons.
"""

from __future__ import annotations

import gc
import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import anyio
import bentoml
import numpy as np
from bentoml.exceptions import InvalidArgument, ServiceUnavailable
from bentoml.validators import ContentType
from fastapi import FastAPI
from pydantic import Field

from pipeline.runtime.cores import usable_cores
from pipeline.runtime.predictor import InputError, Predictor, read_manifest
from serving import compat, request_log
from serving.auth import ApiKey, announce
from serving.body_limit import BodyLimit
from serving.settings import SETTINGS

log = logging.getLogger("bentoml.textclf")
info_app = FastAPI(title="textclf info")
# Labelled by BentoML's worker index (1..TEXTCLF_WORKERS): /metrics adds up every worker's samples, so the
# label is what shows that each worker took traffic and batched its own share (its _sum counts the texts).
BATCH_SIZES = bentoml.metrics.Histogram(
    name="textclf_batch_size",
    documentation="Texts per inference batch after adaptive batching, per worker",
    labelnames=["worker"],
    buckets=[1, 2, 4, 8, 16, 32, 64, 128, 256],
)
request_log.install()


class TextResult(NamedTuple):
    """One text's class probabilities and whether it was cut at the model's max length."""

    probs: np.ndarray
    truncated: bool


def _encodable(text: str) -> bool:
    """JSON may escape half a UTF-16 pair (`"\\ud800"`); the tokenizer cannot take such a string."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _overloaded() -> None:
    raise ServiceUnavailable("the server is overloaded; retry later")


@bentoml.asgi_app(info_app, path="/v1")
@bentoml.service(traffic={"timeout": 60}, workers=SETTINGS.workers)
class TextClassifier:
    bento_model = bentoml.models.BentoModel(SETTINGS.model_tag)

    def __init__(self) -> None:
        # Workers share the machine's cores: each gets its part, so N workers do not start N x cores threads.
        # One worker keeps onnxruntime's own default (one thread per physical core).
        threads = max(1, usable_cores() // SETTINGS.workers) if SETTINGS.workers > 1 else 0
        self.predictor = Predictor(
            self.bento_model.path, quantized=SETTINGS.quantized, threads=threads, busy_wait=False,
            abstain_below=SETTINGS.abstain_below, unseen_scripts_unknown=SETTINGS.unseen_scripts_unknown,
        )
        self.batch_sizes: Counter[int] = Counter()
        dispatcher = compat.batching_dispatcher(
            max_latency_ms=SETTINGS.max_latency_ms,
            max_batch_size=SETTINGS.max_batch_size,
            concurrent_batches=SETTINGS.concurrent_batches,
            fallback=_overloaded,
            get_batch_size=len,
        )
        self._batched = dispatcher(self._infer_requests)
        # Everything loaded so far (BentoML, onnxruntime, the model) lives as long as the worker. Frozen, the
        # collector stops walking it: a full collection over it stalled the event loop and every request in
        # flight with it, which made the p99 at one text per request (docs/serving.md, Speed).
        gc.collect()
        gc.freeze()

    @bentoml.api(route="/classify")
    async def classify(
        self,
        texts: Annotated[list[str], Field(description="Texts to classify, in order.")],
        top_k: Annotated[int, Field(strict=True, description="How many ranked labels to return per text.")] = 1,
    ) -> Annotated[list[dict[str, Any]], ContentType("application/json")]:
        """Classify texts: one prediction per text, in input order.

        The return type names its media type: without one, BentoML works it out for every response by building
        the return type's JSON schema (`IOMixin.mime_type`), which was the biggest single cost of a one-text
        request in a profile of the worker (docs/serving.md, Speed)."""
        self._validate(texts, top_k)
        rows = await self._batched(texts)
        probs = np.stack([row.probs for row in rows])
        return [p.to_dict() for p in self.predictor.rank(probs, [row.truncated for row in rows], top_k, texts=texts)]

    def _validate(self, texts: list[str], top_k: int) -> None:
        if not texts:
            raise InvalidArgument("texts is empty: send at least one text")
        if len(texts) > SETTINGS.max_items:
            raise InvalidArgument(f"too many texts: {len(texts)} > {SETTINGS.max_items} (TEXTCLF_MAX_ITEMS)")
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidArgument(f"texts[{i}] is empty or whitespace only")
            if not text.isascii() and not _encodable(text):
                raise InvalidArgument(f"texts[{i}] is not valid Unicode: it has a lone UTF-16 surrogate")
            if len(text) > SETTINGS.max_chars:
                raise InvalidArgument(f"texts[{i}] has {len(text)} characters, over {SETTINGS.max_chars} (TEXTCLF_MAX_CHARS)")
        try:
            self.predictor.check_top_k(top_k)
        except InputError as err:
            raise InvalidArgument(str(err)) from None

    async def _infer_requests(self, requests: Sequence[list[str]]) -> list[list[TextResult]]:
        """Inference for the texts of every request the dispatcher merged; results split back per request.

        Each request's result is a list with one entry per text, like its input: when the dispatcher splits a
        request across two batches, it joins the halves' results by concatenating them, which keeps one entry
        per text in order only for a container whose length is the number of texts (a `(probs, truncated)`
        pair would be joined into four items)."""
        texts = [text for request in requests for text in request]
        self.batch_sizes[len(texts)] += 1
        BATCH_SIZES.labels(worker=str(bentoml.server_context.worker_index)).observe(len(texts))
        log.debug("batch of %d texts from %d requests", len(texts), len(requests))
        logits, truncated = await anyio.to_thread.run_sync(self.predictor.logits, texts, SETTINGS.inference_batch_size)
        probs = self.predictor.probabilities(logits)
        out, start = [], 0
        for request in requests:
            end = start + len(request)
            out.append([TextResult(p, cut) for p, cut in zip(probs[start:end], truncated[start:end], strict=True)])
            start = end
        return out

    @info_app.get("/metadata")
    def metadata(self) -> dict[str, Any]:
        """What is being served: labels, model, MLflow run, quantization, when it answers `unknown` (abstain
        threshold; the unseen-script rule and the scripts it knows, null for an export without them), limits,
        test scores, and the answering worker with its own batch sizes (each worker batches alone; /metrics has
        every worker's)."""
        manifest = self.predictor.manifest
        return {
            "model_name": manifest.get("model_name"),
            "model_tag": str(self.bento_model.tag),
            "labels": self.predictor.labels,
            "mlflow_run_id": manifest.get("mlflow_run_id"),
            "quantized": self.predictor.variant == "int8",
            "max_length": self.predictor.max_length,
            "temperature": self.predictor.temperature,
            "abstain_below": self.predictor.abstain_below,
            "unseen_scripts_unknown": self.predictor.unseen_scripts_unknown,
            "known_scripts": self.predictor.known_scripts,
            "metrics": manifest.get("metrics", {}),
            "limits": {
                "max_items": SETTINGS.max_items, "max_chars": SETTINGS.max_chars, "max_body_bytes": SETTINGS.max_body_bytes,
            },
            "worker": {"index": bentoml.server_context.worker_index, "of": SETTINGS.workers, "pid": os.getpid()},
            "batch_sizes": {str(size): n for size, n in sorted(self.batch_sizes.items())},
        }


# The key check is added first, so it runs first: a request without the key is refused before its body is read.
if SETTINGS.api_keys:
    TextClassifier.add_asgi_middleware(ApiKey, keys=SETTINGS.api_keys)
announce(SETTINGS.api_keys)
TextClassifier.add_asgi_middleware(BodyLimit, max_bytes=SETTINGS.max_body_bytes)


# `bentoml serve` imports this module in its first process, before it starts a worker. Checking the model
# here (every file against the manifest's sha256) stops the server at once with the broken file named;
# found only in the worker, the same error made BentoML's supervisor restart the worker forever.
_stored = TextClassifier.inner.bento_model.stored  # None when absent: BentoML then names the missing tag itself
if _stored is not None:
    read_manifest(Path(_stored.path))
