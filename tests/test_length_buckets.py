"""Short texts cut from test sentences (per-length evaluation) and from training rows (data.short_spans)."""

import random
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from pipeline.config import DataConfig
from pipeline.data.cleaning import clean
from pipeline.data.length_buckets import BUCKETS, SENTENCE, cut_span, length_buckets
from pipeline.data.sources import RawData
from pipeline.stages.evaluate import length_key, per_length


@pytest.mark.parametrize(("bucket", "low", "high"), [("1 word", 1, 1), ("2 words", 2, 2), ("3-5 words", 3, 5)])
def test_spans_of_spaced_text_are_consecutive_words_without_edge_punctuation(bucket, low, high):
    text = 'Le "chat" noir, qui dort (souvent) sur le canapé, ronronne.'
    words = ["Le", "chat", "noir", "qui", "dort", "souvent", "sur", "le", "canapé", "ronronne"]
    rng = random.Random(3)
    for _ in range(50):
        span = cut_span(text, bucket, rng).split(" ")
        assert low <= len(span) <= high
        start = words.index(span[0])
        assert words[start : start + len(span)] == span


def test_spaceless_scripts_count_characters_and_never_split_a_cluster():
    rng = random.Random(0)
    chinese = cut_span("我们今天去公园散步，天气很好。", "2 words", rng)
    assert len(chinese) == 4 and " " not in chinese and "，" not in chinese
    thai = "ภาษาไทยเป็นภาษาที่สวยงามมากครับ"
    for _ in range(30):
        span = cut_span(thai, "1 word", rng)
        assert span in thai and span[0] not in "็่้๊๋ิีึืุู"  # a mark never starts a span


def test_texts_without_words_and_sentences_stay_whole():
    rng = random.Random(0)
    assert cut_span("...", "1 word", rng) == "..."
    assert cut_span("Hello there, world.", SENTENCE, rng) == "Hello there, world."
    assert cut_span("Hi", "3-5 words", rng) == "Hi"


def test_length_buckets_repeat_every_row_per_bucket_and_are_seeded():
    frame = pd.DataFrame({"text": ["one two three four five six", "sieben acht neun zehn elf"], "label": ["en", "de"]})
    cut = length_buckets(frame, seed=1)
    assert list(cut["bucket"].value_counts().sort_index().index) == sorted(BUCKETS)
    assert (cut.groupby("bucket")["label"].apply(list) == pd.Series({b: ["en", "de"] for b in BUCKETS})).all()
    assert cut["text"].tolist() == length_buckets(frame, seed=1)["text"].tolist()
    assert cut[cut["bucket"] == SENTENCE]["text"].tolist() == frame["text"].tolist()


def test_per_length_scores_each_bucket_and_language_apart():
    test = pd.DataFrame({
        "text": ["alpha beta gamma delta", "uno dos tres cuatro"], "label": ["x", "y"], "language": ["x", "y"],
    })
    label2id = {"x": 0, "y": 1}

    def logits_of(texts):  # always "x" on short spans, unsure: y's short buckets are all wrong
        return np.tile(np.array([[0.5, 0.0]], dtype=np.float32), (len(texts), 1))

    sure = np.array([[9.0, 0.0], [0.0, 9.0]], dtype=np.float32)  # right on both sentences, and sure
    scores = per_length(test, sure, logits_of, label2id, seed=0)
    assert list(scores) == list(BUCKETS)
    assert scores[SENTENCE]["accuracy"] == 1.0
    assert scores["1 word"]["accuracy"] == 0.5
    assert scores["1 word"]["per_language"] == {"x": 1.0, "y": 0.0} and scores["1 word"]["worst_language"] == "y"
    assert "answered" not in scores["1 word"]
    abstaining = per_length(test, sure, logits_of, label2id, seed=0, abstain_below=0.9)
    assert abstaining[SENTENCE]["answered"] == 1.0 and abstaining[SENTENCE]["accuracy_answered"] == 1.0
    assert abstaining["1 word"]["answered"] == 0.0 and abstaining["1 word"]["accuracy_answered"] is None
    assert length_key("3-5 words") == "3_5_words"


def test_short_spans_join_train_only_labelled_as_their_row():
    rows = [f"word{i} and{i} more{i} text{i} here{i} now{i}" for i in range(30)]
    frame = pd.DataFrame({"text": rows, "label": ["a", "b"] * 15, "language": ["a", "b"] * 15})
    raw = RawData({"train": frame}, origin="test")
    plain = clean(raw, DataConfig(source="files", train_file="x", validation_size=0.2, test_size=0.2))
    spans = clean(raw, DataConfig(source="files", train_file="x", validation_size=0.2, test_size=0.2, short_spans=2))
    assert len(spans.splits["train"]) == 3 * len(plain.splits["train"])
    for split in ("validation", "test"):
        pd.testing.assert_frame_equal(spans.splits[split], plain.splits[split])
    whole = dict(zip(plain.splits["train"]["text"], plain.splits["train"]["label"], strict=True))
    added = spans.splits["train"][~spans.splits["train"]["text"].isin(whole)]
    assert len(added) == 2 * len(plain.splits["train"])
    for text, label in zip(added["text"], added["label"], strict=True):
        source = [t for t in whole if text.split()[0] in t.split()]
        assert len(source) == 1 and whole[source[0]] == label
    assert Counter(len(t.split()) for t in added["text"])[1] > 0
