"""Each data source, read for real from files this test writes (or from the eld package itself)."""

import pandas as pd
import pytest

from pipeline.config import DataConfig
from pipeline.data.sources import eld_sentences_path, read_source
from pipeline.errors import DataError


def test_eld_default_source_is_found_through_importlib():
    path = eld_sentences_path()
    assert path.name == "big-test.txt" and "eld" in path.parts
    raw = read_source(DataConfig())
    frame = raw.splits["train"]
    assert frame["label"].nunique() == 60
    assert (frame["label"] == frame["language"]).all()
    assert raw.dropped["malformed lines (no language tab)"] == 1


def test_eld_language_subset():
    frame = read_source(DataConfig(languages=["en", "gu"])).splits["train"]
    assert set(frame["label"]) == {"en", "gu"}
    with pytest.raises(DataError, match="no rows for language"):
        read_source(DataConfig(languages=["xx"]))


ROWS = pd.DataFrame(
    {"sentence": ["bonjour le monde", "hello world", "hallo welt"], "tag": ["fr", "en", "de"], "lng": ["fr", "en", "de"]}
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_local_files_of_every_format(tmp_path, suffix):
    path = tmp_path / f"train{suffix}"
    if suffix == ".csv":
        ROWS.to_csv(path, index=False)
    elif suffix == ".tsv":
        ROWS.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        ROWS.to_json(path, orient="records", lines=True)
    else:
        ROWS.to_parquet(path)
    cfg = DataConfig(source="files", train_file=str(path), text_column="sentence", label_column="tag", language_column="lng")
    frame = read_source(cfg).splits["train"]
    assert frame["text"].tolist() == ROWS["sentence"].tolist()
    assert frame["label"].tolist() == ["fr", "en", "de"]
    assert frame["language"].tolist() == ["fr", "en", "de"]


def test_missing_column_names_file_and_columns(tmp_path):
    path = tmp_path / "train.csv"
    ROWS.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        read_source(DataConfig(source="files", train_file=str(path), text_column="text", label_column="tag"))
    assert str(path) in str(err.value) and "missing column(s) text" in str(err.value) and "sentence" in str(err.value)


def test_empty_label_is_an_error_with_line_numbers(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\nhello,en\nbonjour,\n")
    with pytest.raises(DataError, match=r"1 row\(s\) have an empty 'label', first at line\(s\) \[3\]"):
        read_source(DataConfig(source="files", train_file=str(path)))


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        read_source(DataConfig(source="files", train_file=str(tmp_path / "nope.csv")))
    odd = tmp_path / "train.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_source(DataConfig(source="files", train_file=str(odd)))


def _sib_split(lang, split):
    """Two rows of one SIB-200 language and split, in its columns."""
    return pd.DataFrame({"index_id": [1, 2], "category": ["sports", "health"], "text": [f"{lang} {split} a", f"{lang} {split} b"]})


def _sib_folder(root, languages=("eng_Latn", "fra_Latn")):
    for lang in languages:
        (root / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            _sib_split(lang, split).to_csv(root / lang / f"{split}.tsv", sep="\t", index=False)
    return root


def test_folder_per_language_with_topic_labels(tmp_path):
    root = _sib_folder(tmp_path / "sib")
    raw = read_source(DataConfig(source="folder", folder=str(root), label_column="category"))
    assert set(raw.splits) == {"train", "validation", "test"}
    train = raw.splits["train"]
    assert set(train["label"]) == {"sports", "health"}
    assert set(train["language"]) == {"eng_Latn", "fra_Latn"}


def test_folder_with_language_labels_and_subset(tmp_path):
    root = _sib_folder(tmp_path / "sib")
    raw = read_source(DataConfig(source="folder", folder=str(root), label_from="language", languages=["fra_Latn"]))
    assert set(raw.splits["test"]["label"]) == {"fra_Latn"}
    with pytest.raises(DataError, match="no folder for language"):
        read_source(DataConfig(source="folder", folder=str(root), languages=["deu_Latn"]))


def test_hub_code_path_with_a_dataset_written_to_disk(tmp_path):
    """datasets.load_dataset takes the same code path for a Hub id and for a local dataset repository."""
    repo = tmp_path / "my-dataset" / "data"
    repo.mkdir(parents=True)
    for split in ("train", "validation", "test"):
        pd.DataFrame({"text": [f"{split} one", f"{split} two"], "label": ["a", "b"], "lang": ["en", "de"]}).to_parquet(
            repo / f"{split}-00000-of-00001.parquet"
        )
    raw = read_source(DataConfig(source="hub", hub_id=str(repo.parent), language_column="lang"))
    assert set(raw.splits) == {"train", "validation", "test"}
    assert raw.splits["validation"]["text"].tolist() == ["validation one", "validation two"]
    assert raw.splits["train"]["language"].tolist() == ["en", "de"]


def test_hub_failure_is_a_clear_error():
    with pytest.raises(DataError, match="could not load dataset nobody/no-such-dataset"):
        read_source(DataConfig(source="hub", hub_id="nobody/no-such-dataset"))


def _hub_repo(root, languages=("fra_Latn", "eng_Latn")):
    """A local dataset repository with one config per language, as SIB-200's Davlan/sib200 on the Hub: the
    README's `configs:` names each config's split files, which load_dataset and get_dataset_config_names read."""
    configs = []
    for lang in languages:
        (root / lang).mkdir(parents=True)
        for split in ("train", "validation", "test"):
            _sib_split(lang, split).to_parquet(root / lang / f"{split}.parquet")
        files = "".join(f"  - split: {s}\n    path: {lang}/{s}.parquet\n" for s in ("train", "validation", "test"))
        configs.append(f"- config_name: {lang}\n  data_files:\n{files}")
    (root / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n")
    return root


def test_hub_with_language_labels_and_no_languages_reads_every_config(tmp_path):
    repo = _hub_repo(tmp_path / "sib200")
    raw = read_source(DataConfig(source="hub", hub_id=str(repo), label_from="language"))
    assert set(raw.splits) == {"train", "validation", "test"}
    train = raw.splits["train"]
    assert set(train["label"]) == {"eng_Latn", "fra_Latn"}
    assert (train["label"] == train["language"]).all()
    assert train.loc[train["label"] == "fra_Latn", "text"].tolist() == ["fra_Latn train a", "fra_Latn train b"]
    # named languages are still a subset, and topic labels come from the column as before
    subset = read_source(DataConfig(source="hub", hub_id=str(repo), label_column="category", languages=["fra_Latn"]))
    assert set(subset.splits["test"]["label"]) == {"sports", "health"}
    assert set(subset.splits["test"]["language"]) == {"fra_Latn"}


class _FakeHub:
    """Stands in for the Hub at its two calls, get_dataset_config_names and load_dataset; records them."""

    def __init__(self, configs):
        self.configs, self.listed, self.loaded = configs, [], []

    def get_dataset_config_names(self, path, **_):
        self.listed.append(path)
        return list(self.configs)

    def load_dataset(self, path, name=None, **_):
        import datasets

        self.loaded.append((path, name))
        rows = pd.DataFrame({"index_id": [1], "category": ["travel"], "text": [f"{name} sentence"]})
        return datasets.DatasetDict({s: datasets.Dataset.from_pandas(rows) for s in ("train", "validation", "test")})


def test_hub_id_without_languages_lists_its_configs_on_the_hub(monkeypatch):
    import datasets

    hub = _FakeHub(["zul_Latn", "ace_Arab", "eng_Latn"])
    monkeypatch.setattr(datasets, "get_dataset_config_names", hub.get_dataset_config_names)
    monkeypatch.setattr(datasets, "load_dataset", hub.load_dataset)
    raw = read_source(DataConfig(source="hub", hub_id="Davlan/sib200", label_from="language"))
    assert hub.listed == ["Davlan/sib200"]
    assert hub.loaded == [("Davlan/sib200", name) for name in ("ace_Arab", "eng_Latn", "zul_Latn")]
    assert raw.splits["train"]["label"].tolist() == ["ace_Arab", "eng_Latn", "zul_Latn"]
    assert raw.origin == "hub: Davlan/sib200"
    # languages named: no listing; topic labels with no languages: the one config data.hub_config names
    hub.listed.clear(), hub.loaded.clear()
    read_source(DataConfig(source="hub", hub_id="Davlan/sib200", label_from="language", languages=["eng_Latn"]))
    read_source(DataConfig(source="hub", hub_id="Davlan/sib200", label_column="category", hub_config="eng_Latn"))
    assert hub.listed == [] and hub.loaded == [("Davlan/sib200", "eng_Latn")] * 2


def test_hub_config_listing_failure_is_a_clear_error(monkeypatch):
    import datasets

    def unreachable(path, **_):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "get_dataset_config_names", unreachable)
    with pytest.raises(DataError, match="could not load dataset Davlan/sib200: listing its configs failed: no network"):
        read_source(DataConfig(source="hub", hub_id="Davlan/sib200", label_from="language"))
