"""One typed configuration for every stage, read from YAML with dotted command-line overrides.

sections: the pydantic models, each field with its type, default, bounds and help; files: YAML that builds
on other YAML (`base:`), several files merged left to right, and overrides; describe: the help that
`pipeline config --describe` prints; errors: ConfigError, whose message names the file and the dotted key.
"""

from pipeline.config.describe import describe
from pipeline.config.errors import ConfigError
from pipeline.config.files import load_config, save_config
from pipeline.config.sections import (
    COURSE_KINDS,
    DEFAULT_MODEL_KIND,
    MODEL_KINDS,
    OFFLINE_MODEL,
    BiGruModel,
    CharNgramModel,
    Config,
    DataConfig,
    EvaluateConfig,
    ExportConfig,
    ExtraTrainConfig,
    FromScratchModel,
    MlflowConfig,
    ModelConfig,
    NgramMlpModel,
    PredictConfig,
    PretrainedModel,
    RunPaths,
    TextCnnModel,
    TokenizerConfig,
    TrainConfig,
    TransformerModel,
)

__all__ = [
    "COURSE_KINDS",
    "DEFAULT_MODEL_KIND",
    "MODEL_KINDS",
    "OFFLINE_MODEL",
    "BiGruModel",
    "CharNgramModel",
    "Config",
    "ConfigError",
    "DataConfig",
    "EvaluateConfig",
    "ExportConfig",
    "ExtraTrainConfig",
    "MlflowConfig",
    "FromScratchModel",
    "ModelConfig",
    "NgramMlpModel",
    "PredictConfig",
    "PretrainedModel",
    "RunPaths",
    "TextCnnModel",
    "TokenizerConfig",
    "TrainConfig",
    "TransformerModel",
    "describe",
    "load_config",
    "save_config",
]
