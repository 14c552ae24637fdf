"""Configs composed from files: `base:` chains, several --config files merged left to right, and errors that
name the file holding the bad key."""

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_base_chain_with_paths_relative_to_each_including_file(tmp_path):
    write(tmp_path / "shared/data.yaml", "data:\n  languages: [en, de, fr]\n  max_train_per_label: 10\ntrain:\n  epochs: 2\n")
    write(tmp_path / "shared/model.yaml", "base: data.yaml\nmodel:\n  num_layers: 3\ntrain:\n  epochs: 5\n")
    top = write(tmp_path / "runs/top.yaml", "base: ../shared/model.yaml\ndata:\n  max_train_per_label: 20\n")
    cfg = load_config(top)
    assert cfg.data.languages == ["en", "de", "fr"]  # from the deepest base
    assert cfg.model.num_layers == 3 and cfg.train.epochs == 5.0  # the middle file wins over its base
    assert cfg.data.max_train_per_label == 20  # the named file wins over both
    assert cfg.run_name == "top"  # the named file's stem, not a base's


def test_a_list_replaces_the_base_list(tmp_path):
    write(tmp_path / "base.yaml", "data:\n  languages: [en, de, fr]\n  exclude_labels: [lo]\n")
    cfg = load_config(write(tmp_path / "child.yaml", "base: base.yaml\ndata:\n  languages: [sw]\n"))
    assert cfg.data.languages == ["sw"] and cfg.data.exclude_labels == ["lo"]
    assert load_config(tmp_path / "child.yaml", ["data.languages=[yo]"]).data.languages == ["yo"]


def test_norwegian_stays_a_language_code_in_files_and_overrides(tmp_path):
    # YAML 1.1 reads no/yes/on/off as booleans; the config reads YAML 1.2's true/false only.
    cfg = load_config(write(tmp_path / "c.yaml", "data:\n  languages: [da, no, on]\n  drop_unseen_labels: true\n"))
    assert cfg.data.languages == ["da", "no", "on"] and cfg.data.drop_unseen_labels is True
    assert load_config(None, ["data.languages=[no, sv]"]).data.languages == ["no", "sv"]
    with pytest.raises(ConfigError, match="drop_unseen_labels"):
        load_config(None, ["data.drop_unseen_labels=yes"])


def test_a_cycle_is_an_error_naming_the_chain(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: base: files include each other: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(tmp_path / "a.yaml")
    write(tmp_path / "self.yaml", "base: ./self.yaml\n")
    with pytest.raises(ConfigError, match="files include each other"):
        load_config(tmp_path / "self.yaml")


def test_missing_or_malformed_base(tmp_path):
    child = write(tmp_path / "child.yaml", "base: nope.yaml\n")
    with pytest.raises(ConfigError, match=f"config file not found: {tmp_path / 'nope.yaml'} \\(the base of {child}\\)"):
        load_config(child)
    with pytest.raises(ConfigError, match=r"base must be the path of another YAML file, got \['a.yaml'\]"):
        load_config(write(tmp_path / "listy.yaml", "base: [a.yaml]\n"))


def test_an_error_in_a_base_names_the_base(tmp_path):
    base = write(tmp_path / "base.yaml", "data:\n  sourse: eld\n")
    child = write(tmp_path / "child.yaml", "base: base.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(child)
    assert str(err.value).startswith(f"{base} (via {child}): unknown key data.sourse; known keys here: ")
    # A value that the named file or the command line sets is blamed on the named file, as before bases.
    write(tmp_path / "good.yaml", "train:\n  epochs: 2\n")
    own = write(tmp_path / "own.yaml", "base: good.yaml\ntrain:\n  epochs: 0\n")
    with pytest.raises(ConfigError, match=f"^{own}: train.epochs must be greater than 0; got 0$"):
        load_config(own)
    with pytest.raises(ConfigError, match=f"^{own}: train.batch_size must be greater than or equal to 1; got 0"):
        load_config(own, ["train.epochs=1", "train.batch_size=0"])


def test_several_files_merge_left_to_right(tmp_path):
    first = write(tmp_path / "first.yaml", "data:\n  languages: [en, de]\n  seed: 1\ntrain:\n  epochs: 2\n")
    second = write(tmp_path / "second.yaml", "data:\n  languages: [fr]\ntrain:\n  batch_size: 8\n")
    cfg = load_config([first, second], ["train.epochs=3"])
    assert cfg.data.languages == ["fr"] and cfg.data.seed == 1
    assert (cfg.train.epochs, cfg.train.batch_size) == (3.0, 8)
    assert cfg.run_name == "second"  # the last file's stem
    assert load_config([second, first]).run_name == "first"
    assert load_config([str(first)]).flat() == load_config(first).flat()
    assert load_config([]).flat() == load_config().flat()


def test_with_several_files_an_error_names_the_one_that_set_the_key(tmp_path):
    first = write(tmp_path / "first.yaml", "train:\n  epochs: -1\n")
    second = write(tmp_path / "second.yaml", "train:\n  batch_size: 8\n")
    with pytest.raises(ConfigError, match=f"^{first}: train.epochs must be greater than 0; got -1$"):
        load_config([first, second])
    with pytest.raises(ConfigError, match=f"^{first} \\+ {second}: train.strategy=head_only needs model.pooling=mean"):
        load_config([first, second], ["train.epochs=1", "train.strategy=head_only"])


def test_cli_config_is_repeatable(tmp_path, capsys):
    from pipeline.cli import main

    first = write(tmp_path / "first.yaml", f"root: {tmp_path}\n")
    second = write(tmp_path / "second.yaml", "train:\n  epochs: 1\n")
    assert main(["config", "-c", str(first), "--config", str(second), "--path", "export"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "artifacts/second/export")
    assert main(["config", "-c", str(first), "-c", str(second)]) == 0
    assert "epochs: 1.0" in capsys.readouterr().out


def test_shipped_sib200_variants_share_the_topic_data():
    topic = load_config(ROOT / "configs/sib200-topic.yaml").data
    for name in ("sib200-topic-e5", "sib200-topic-minilm"):
        assert load_config(ROOT / f"configs/{name}.yaml").data == topic
    crosslingual = load_config(ROOT / "configs/sib200-crosslingual-e5.yaml").data
    assert crosslingual.train_languages == ["eng_Latn"] and len(crosslingual.languages) == 52
    assert crosslingual.model_dump(exclude={"languages", "train_languages"}) == topic.model_dump(
        exclude={"languages", "train_languages"}
    )


def _sib_copy(root: Path, languages=("eng_Latn", "zho_Hant")) -> Path:
    """A local SIB-200 copy in its layout: <lang_Script>/{train,dev,test}.tsv with index_id, category, text."""
    for lang in languages:
        (root / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            (root / lang / f"{split}.tsv").write_text(f"index_id\tcategory\ttext\n1\tsports\t{lang} {split}\n")
    return root


def test_sib200_configs_read_the_hub_by_default_and_a_local_copy_by_override(tmp_path):
    from pipeline.data.sources import read_source

    for name in ("sib200-topic", "sib200-topic-e5", "sib200-topic-minilm", "sib200-crosslingual-e5", "langid-sib200-all"):
        data = load_config(ROOT / f"configs/{name}.yaml").data
        assert (data.source, data.hub_id, data.folder) == ("hub", "Davlan/sib200", None), name
    every = load_config(ROOT / "configs/langid-sib200-all.yaml").data
    # no languages named and labels from the language: every config of the Hub dataset (pipeline/data/sources.py)
    assert every.languages == [] and every.label_from == "language" and every.hub_config is None
    assert every.extra_train == [] and every.exclude_labels == [] and every.max_train_per_label is None
    # the override the docs give for a local copy reads every language folder, labelled by its name
    copy = _sib_copy(tmp_path / "sib200" / "data" / "annotated")
    local = load_config(ROOT / "configs/langid-sib200-all.yaml", ["data.source=folder", f"data.folder={copy}"]).data
    train = read_source(local).splits["train"]
    assert sorted(train["label"]) == ["eng_Latn", "zho_Hant"]


def test_config_comments_name_no_machine_path():
    """A clone has no ../shared/data: comments describe a local copy generically (the one value that keeps such a
    path, langid-more-data's extra_train, says so in its comment)."""
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        comments = [line.partition("#")[2] for line in path.read_text(encoding="utf-8").splitlines() if "#" in line]
        assert not [c for c in comments if "shared/" in c], path.name
