"""Offline-first multilingual text classification: prepare, train, evaluate, export, serve."""

import os

from pipeline import compat

# Set once for every Python entry point (the CLI, the tools, the service, the tests) and inherited by the
# servers they start; the Makefile exports the same for the commands it runs without Python (`mlflow ui`).
for _name, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}.items():
    os.environ.setdefault(_name, _value)

# The library workarounds (pipeline/compat.py): logging filters only, no library is imported here.
compat.install()
