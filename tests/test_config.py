import json
from pathlib import Path

import pytest

from pipeline.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_a_file():
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert cfg.data.source == "eld"
    assert cfg.run_name == "default"


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.run_name == path.stem


def test_overrides_are_typed_and_nested():
    cfg = load_config(ROOT / "configs/default.yaml", ["train.epochs=1", "data.languages=[en, de]", "model.tokenizer.kind=bpe"])
    assert cfg.train.epochs == 1.0 and isinstance(cfg.train.epochs, float)
    assert cfg.data.languages == ["en", "de"]
    assert cfg.model.tokenizer.kind == "bpe"


def test_flat_keys_round_trip_as_overrides():
    cfg = load_config(ROOT / "configs/default.yaml")
    flat = cfg.flat()
    assert flat["model.tokenizer.vocab_size"] == cfg.model.tokenizer.vocab_size
    again = load_config(None, [f"{k}={json.dumps(v)}" for k, v in flat.items()])
    assert again.flat() == flat


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.sourse=eld", "unknown key data.sourse"),
        ("trian.epochs=1", "unknown key trian"),
        ("train.batch_size=abc", "train.batch_size must be int"),
        ("train.resume=maybe", "train.resume must be true or false"),
        ("data.source=ftp", "data.source must be one of"),
        ("data.test_size=1.5", "data.test_size must be between 0 and 1"),
        ("model.num_heads=3", "model.hidden_size (128) must be divisible by model.num_heads (3)"),
        ("data.source=files", "data.train_file is required"),
        ("export.min_label_agreement=0", "export.min_label_agreement"),
        ("train.epochs", "must look like section.key=value"),
        ("data.languages=en", "data.languages must be a list"),
    ],
)
def test_bad_values_fail_at_load_naming_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs/default.yaml", [override])
    assert message in str(err.value)
    if "=" in override:
        assert "configs/default.yaml" in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(listy)


def test_run_name_keys_the_output_paths(tmp_path):
    cfg = load_config(ROOT / "configs/default.yaml", [f"root={tmp_path}", "run_name=variant"])
    assert cfg.paths.data == tmp_path / "data/processed/variant"
    assert cfg.paths.export == tmp_path / "artifacts/variant/export"
    assert cfg.paths.reports == tmp_path / "reports/variant"


def test_cli_reports_config_errors_and_paths(capsys, tmp_path):
    from pipeline.cli import main

    assert main(["train", "--config", str(ROOT / "configs/default.yaml"), "train.epochs=-1"]) == 2
    assert "train.epochs must be positive" in capsys.readouterr().err
    assert main(["config", "--config", str(ROOT / "configs/default.yaml"), f"root={tmp_path}", "--path", "export"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "artifacts/default/export")
