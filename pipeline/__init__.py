"""Offline-first multilingual text classification: prepare, train, evaluate, export, serve."""

import logging


class _NotAMistralTokenizer(logging.Filter):
    """transformers 4.57.6 warns that a tokenizer has "an incorrect regex pattern" and should be loaded with
    fix_mistral_regex=True for every local folder whose config.json it wrote: the check compares the saved
    transformers version and never the model type. No tokenizer here is a Mistral one, so the warning
    (shown on every model and export load) only misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fix_mistral_regex" not in record.getMessage()


logging.getLogger("transformers.tokenization_utils_base").addFilter(_NotAMistralTokenizer())
