import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from pipeline.config import Config, ConfigError, DataConfig, TrainConfig, describe, load_config
from pipeline.config.errors import union_members

ROOT = Path(__file__).resolve().parents[1]


def _sections(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Every section of the config, the top level ("") included, with its dotted prefix; the model section once
    per kind (the default config's kind, char_ngram, is the one the unknown-key test can reach)."""
    found = [(prefix, model)]
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found += _sections(info.annotation, f"{prefix}{name}.")
        for member in union_members(info.annotation).values():
            found += _sections(member, f"{prefix}{name}.")
    return found


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
    cfg = load_config(ROOT / "configs/default.yaml", ["train.epochs=1", "data.languages=[en, de]", "model.tokenizer.min_frequency=5"])
    assert cfg.train.epochs == 1.0 and isinstance(cfg.train.epochs, float)
    assert cfg.data.languages == ["en", "de"]
    assert cfg.model.tokenizer.min_frequency == 5


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
        ("train.batch_size=abc", "train.batch_size must be a valid integer; got 'abc'"),
        ("train.batch_size=true", "train.batch_size must be a valid integer; got True"),
        ("train.epochs=abc", "train.epochs must be a valid number"),
        ("train.resume=maybe", "train.resume must be true or false"),
        ("data.source=ftp", "data.source must be one of"),
        ("train.class_weights=sometimes", "train.class_weights must be one of 'none' or 'balanced'"),
        ("data.test_size=1.5", "data.test_size must be less than 1; got 1.5"),
        ("data.validation_size=0.85", "data.validation_size + data.test_size must be below 1"),
        ("data.max_train_per_label=0", "data.max_train_per_label must be greater than or equal to 1"),
        ("model.positional=rotary", "model.positional must be one of 'sinusoidal', 'learned' or 'none'"),
        ("data.source=files", "data.train_file is required"),
        ("export.min_label_agreement=0", "export.min_label_agreement must be greater than 0"),
        ("model.pooling=mean", "unknown key model.pooling for model.kind=char_ngram (pooling is a key of model.kind=pretrained)"),
        ("model.kind=lstm", "model.kind must be one of 'pretrained', 'from_scratch', 'transformer'"),
        ("train.strategy=head_only", "train.strategy=head_only needs model.pooling=mean"),
        ("run_name=a/b", "run_name must be a non-empty name without '/'"),
        ("model.tokenizer.vocab_size=99", "model.tokenizer.vocab_size must be greater than or equal to 100"),
        ("train.epochs", "must look like section.key=value"),
        ("data.extra_train=[{source:", "override data.extra_train: the value '[{source:' is not valid YAML"),
        ("data.languages=en", "data.languages must be a list"),
    ],
)
def test_bad_values_fail_at_load_naming_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs/default.yaml", [override])
    assert message in str(err.value)
    if "=" in override and "not valid YAML" not in message:  # a value that does not parse is the command line's
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
    assert "train.epochs must be greater than 0; got -1" in capsys.readouterr().err
    assert main(["config", "--config", str(ROOT / "configs/default.yaml"), f"root={tmp_path}", "--path", "export"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "artifacts/default/export")


@pytest.mark.parametrize(
    ("prefix", "section"),
    [(p, s) for p, s in _sections() if "kind" not in s.model_fields or s.model_fields["kind"].default == "char_ngram"],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_unknown_keys_fail_at_every_level_listing_the_known_ones(prefix, section):
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs/default.yaml", [f"{prefix}nope=1"])
    for_kind = " for model.kind=char_ngram" if prefix == "model." else ""
    assert str(err.value) == (
        f"{ROOT / 'configs/default.yaml'}: unknown key {prefix}nope{for_kind}; known keys here: "
        f"{', '.join(sorted(section.model_fields))}"
    )


def test_a_later_layer_that_switches_the_model_kind_keeps_only_what_the_new_kind_reads():
    transformer = ROOT / "configs/langid-transformer.yaml"
    base = load_config(transformer)
    cnn = load_config(transformer, ["model.kind=textcnn"])
    assert cnn.model.kind == "textcnn" and cnn.model.hidden_size == base.model.hidden_size
    assert cnn.model.tokenizer == base.model.tokenizer and not hasattr(cnn.model, "num_layers")
    with pytest.raises(ConfigError, match="unknown key model.num_layers for model.kind=textcnn"):
        load_config(transformer, ["model.kind=textcnn", "model.num_layers=3"])  # set beside the kind: a mistake
    with pytest.raises(ConfigError, match=r"model.hidden_size \(128\) must be divisible by model.num_heads \(3\)"):
        load_config(transformer, ["model.num_heads=3"])
    assert load_config(None, ["model.hidden_size=64"]).model.kind == "from_scratch"  # no kind: the default's
    # the old kind's default tokenizer, written out by a saved config, does not follow the switch
    assert load_config(ROOT / "configs/default.yaml", ["model.kind=ngram_mlp"]).model.tokenizer.kind == "wordpiece"


def test_a_saved_config_loads_back_and_switches_kind(tmp_path):
    from pipeline.config import save_config

    for name in ("default.yaml", "langid-transformer.yaml", "langid-e5.yaml"):
        cfg = load_config(ROOT / "configs" / name)
        save_config(cfg, tmp_path / name)
        assert load_config(tmp_path / name).to_dict() == {**cfg.to_dict(), "run_name": Path(name).stem}
    switched = load_config(tmp_path / "langid-transformer.yaml", ["model.kind=char_ngram", "train.optimizer=adamw"])
    assert switched.model.tokenizer.kind == "char" and switched.model.hidden_size == 128


def test_sections_built_in_code_are_validated_too():
    """Code that builds a section directly gets pydantic's ValidationError (a ValueError), with the same rules."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValidationError, match="sourse"):
        DataConfig(sourse="eld")
    assert TrainConfig(epochs=30).epochs == 30.0  # an int is a fine float, and stays one in to_dict()


def test_several_errors_report_the_first_and_name_the_others():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["train.epochs=0", "data.test_size=3", "model.num_heads=3"])
    assert str(err.value) == "defaults: data.test_size must be less than 1; got 3 (and 2 more: model, train.epochs)"


def test_describe_lists_every_key_with_its_type_default_and_help(capsys):
    from pipeline.cli import main

    assert main(["config", "--describe"]) == 0
    out = capsys.readouterr().out
    assert out == describe()
    lines = out.splitlines()
    one_line = " ".join(out.split())
    for prefix, section in _sections():
        for name, info in section.model_fields.items():
            assert any(line.startswith(f"{prefix}{name}: ") for line in lines), f"{prefix}{name} is not described"
            assert info.description and " ".join(info.description.split()) in one_line
    assert "train.epochs: float (> 0) = 3.0" in lines
    assert 'data.source: eld | files | folder | hub = "eld"' in lines
    assert "data.max_train_per_label: int | null (>= 1) = null" in lines
    assert 'export.quantize_operators: list[str] = ["MatMul"]' in lines
    assert any(line.startswith("base: ") for line in lines)
