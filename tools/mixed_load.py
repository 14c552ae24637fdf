"""Mixed traffic for the reliability test and `make soak`: valid requests of 1-16 texts and bad requests.

About 70% of requests are valid: lists of 1 to 16 texts, short or up to 10,000 characters, in several
scripts, with a random `top_k`. Mixed sizes are the point: they make the batching dispatcher split requests
across batches, which uniform requests never do. The other 30% are bad (an empty list, invalid JSON, wrong
types, a `top_k` over the label count) and must each get a 4xx. One seeded generator, so a failure can be
replayed. Every valid answer can be kept and checked against the in-process predictor afterwards.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.runtime.predictor import UNKNOWN, Predictor

EXTRA_SCRIPTS = ("😀🎉 emoji 🚀", "مرحبا بالعالم", "שלום עולם", "早上好，世界", "Ελληνικά и русский", "नमस्ते दुनिया")
MAX_LONG_CHARS = 10_000


@dataclass(frozen=True)
class MixedRequest:
    kind: str
    body: bytes
    texts: list[str] | None = None  # None: a bad request, which must get a 4xx
    top_k: int = 1


def _text(rng: random.Random, pool: Sequence[str]) -> str:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(EXTRA_SCRIPTS)
    if roll < 0.25:  # long: sentences joined up to a random length, so the model truncates them
        target = rng.randint(500, MAX_LONG_CHARS)
        parts: list[str] = []
        while sum(map(len, parts)) < target:
            parts.append(rng.choice(pool))
        return " ".join(parts)[:target].strip() or pool[0]
    return rng.choice(pool)


def make_request(rng: random.Random, pool: Sequence[str], labels: int) -> MixedRequest:
    """One request: 70% valid, 30% bad, drawn from `rng`."""
    if rng.random() < 0.7:
        texts = [_text(rng, pool) for _ in range(rng.randint(1, 16))]
        top_k = rng.randint(1, labels)
        return MixedRequest("valid", json.dumps({"texts": texts, "top_k": top_k}).encode(), texts, top_k)
    kind = rng.choice(("empty list", "invalid json", "texts not a list", "non-string text", "top_k over labels"))
    body = {
        "empty list": b'{"texts": []}',
        "invalid json": b'{"texts": ["unclosed"',
        "texts not a list": b'{"texts": 42}',
        "non-string text": b'{"texts": ["ok", 7]}',
        "top_k over labels": json.dumps({"texts": ["ok"], "top_k": labels + 1}).encode(),
    }[kind]
    return MixedRequest(kind, body)


@dataclass
class MixedResult:
    statuses: Counter = field(default_factory=Counter)  # HTTP status -> requests
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request
    dropped: int = 0  # connection errors: reset, refused, timed out, unreadable response
    bad_not_4xx: list[str] = field(default_factory=list)  # bad requests that got anything but a 4xx
    samples: list[tuple[list[str], int, list[dict]]] = field(default_factory=list)  # kept valid answers

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def run(
    url: str, pool: Sequence[str], labels: int, clients: int, seconds: float, seed: int = 0,
    max_requests: int | None = None, keep_every: int = 1,
) -> MixedResult:
    """`clients` threads, each on a keep-alive connection, send mixed requests until `seconds` pass or the
    clients together have sent `max_requests`; every `keep_every`-th valid answer is kept for checking."""
    parsed = urllib.parse.urlsplit(url)
    result = MixedResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    sent = [0]
    valid_seen = [0]

    def client(worker: int) -> None:
        rng = random.Random(seed * 1000 + worker)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                if max_requests is not None and sent[0] >= max_requests:
                    break
                sent[0] += 1
            request = make_request(rng, pool, labels)
            started = time.perf_counter()
            try:
                connection.request("POST", "/classify", body=request.body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects on the next request
                with lock:
                    result.dropped += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                result.statuses[status] += 1
                result.latencies.append(elapsed)
                if request.texts is None and not 400 <= status < 500:
                    result.bad_not_4xx.append(f"{request.kind}: {status}")
                if request.texts is not None and status == 200:
                    valid_seen[0] += 1
                    if valid_seen[0] % keep_every == 0:
                        result.samples.append((request.texts, request.top_k, json.loads(payload)))

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return result


def wrong_answers(predictor: Predictor, samples: Sequence[tuple[list[str], int, list[dict]]], tolerance: float) -> list[str]:
    """Answers that differ from the in-process predictor beyond `tolerance`, one line each.

    An answer is wrong when its score is off by more than the tolerance, or when it ranks first another label than
    the predictor and that label's probability is more than the tolerance below the best one (int8 models
    quantize activations per batch, so near-ties may order differently with other batch neighbours), or when one
    side answers `unknown` (the abstain threshold or the unseen-script rule) and the other does not.
    """
    wrong = []
    everything = len(predictor.labels)
    floor = predictor.abstain_below or 0.0
    for texts, top_k, answer in samples:
        if len(answer) != len(texts):
            wrong.append(f"{len(answer)} answers for {len(texts)} texts")
            continue
        for text, got, want in zip(texts, answer, predictor.predict(texts, top_k=everything, batch_size=16), strict=True):
            probs = {t["label"]: t["score"] for t in want.top_k}
            best = got["top_k"][0]["label"] if got["top_k"] else got["label"]  # the model's own first, even when unknown
            off = abs(got["score"] - probs.get(best, -1.0))
            behind = want.score - probs.get(best, -1.0)
            # unknown on one side only: wrong, unless the score sits within the tolerance of the abstain threshold
            abstained = (got["label"] == UNKNOWN) != (want.label == UNKNOWN) and abs(want.score - floor) > tolerance
            if (off > tolerance or behind > tolerance or abstained or len(got["top_k"]) != top_k
                    or got["truncated"] != want.truncated):
                wrong.append(f"{text[:40]!r}: served {got['label']} {got['score']:.4f}, in-process {want.label} {want.score:.4f}")
    return wrong
