"""Offline-first multilingual text classification: prepare, train, evaluate, export, serve."""

import logging
import os

# Set once for every Python entry point (the CLI, the tools, the service, the tests) and inherited by the
# servers they start; the Makefile exports the same for the commands it runs without Python (`mlflow ui`).
for _name, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_name, _value)


class _NotAMistralTokenizer(logging.Filter):
    """transformers 4.57.6 warns that a tokenizer has "an incorrect regex pattern" and should be loaded with
    fix_mistral_regex=True for every local folder whose config.json it wrote: the check compares the saved
    transformers version and never the model type. No tokenizer here is a Mistral one, so the warning
    (shown on every model and export load) only misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fix_mistral_regex" not in record.getMessage()


logging.getLogger("transformers.tokenization_utils_base").addFilter(_NotAMistralTokenizer())
