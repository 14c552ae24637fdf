"""Training's numpy collator gives exactly the batches of transformers' DataCollatorWithPadding."""

import pandas as pd
import pytest
import torch
from transformers import DataCollatorWithPadding

from pipeline.config import TokenizerConfig
from pipeline.data.tokenization import train_tokenizer
from pipeline.stages.padding import PaddingCollator
from pipeline.stages.train import encode

TEXTS = ["a", "Guten Morgen, wie geht es dir?", "Доброе утро", "x " * 30, "", "ok", "مرحبا بالعالم", "hello world"]
LABELS = ["de", "en", "ru"]


@pytest.fixture(scope="module", params=["char", "wordpiece"])
def tokenizer(request):
    return train_tokenizer(TEXTS * 3, TokenizerConfig(kind=request.param, vocab_size=300, min_frequency=1), max_length=24)


def _features(tokenizer) -> list[dict]:
    frame = pd.DataFrame({"text": TEXTS, "label": [LABELS[i % 3] for i in range(len(TEXTS))]})
    dataset = encode(frame, tokenizer, LABELS, max_length=24)  # as training encodes its splits
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_same_tensors_as_data_collator_with_padding(tokenizer, side: str) -> None:
    tokenizer.padding_side = side
    try:
        features = _features(tokenizer)
        typed = [f | {"token_type_ids": [1] * len(f["input_ids"])} for f in features]  # as BERT-style tokenizers give
        for batch in (features, features[:3], features[4:5], features[::-1], typed):
            ours, theirs = PaddingCollator(tokenizer)(batch), DataCollatorWithPadding(tokenizer)(batch)
            assert set(ours) == set(theirs) and {"input_ids", "attention_mask", "labels"} <= set(ours)
            for key, expected in theirs.items():
                assert ours[key].dtype == expected.dtype and torch.equal(ours[key], expected), key
            assert ours["input_ids"].shape[1] == max(len(f["input_ids"]) for f in batch)
    finally:
        tokenizer.padding_side = "right"


def test_other_columns_go_to_data_collator_with_padding(tokenizer) -> None:
    features = [f | {"special_tokens_mask": [0] * len(f["input_ids"])} for f in _features(tokenizer)]
    ours, theirs = PaddingCollator(tokenizer)(features), DataCollatorWithPadding(tokenizer)(features)
    assert set(ours) == set(theirs) and "special_tokens_mask" in ours
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
