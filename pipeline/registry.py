"""The export folder as an MLflow pyfunc model, so the registry entry is the servable artifact itself.

`mlflow.pyfunc.load_model("models:/<name>/<version>").predict(["some text"])` runs the same Predictor
as the BentoML service, on the same ONNX file and tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

import pipeline


class ExportedClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow's PythonModelContext
        from pipeline.predictor import Predictor

        self.predictor = Predictor(context.artifacts["export"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ANN001
        texts = model_input.iloc[:, 0].tolist() if isinstance(model_input, pd.DataFrame) else list(model_input)
        predictions = self.predictor.predict(texts)
        return pd.DataFrame([{"label": p.label, "score": p.score} for p in predictions])


def log_and_register(export_dir: Path, registered_name: str) -> str:
    """Log the export folder as a pyfunc model in the active run; register it when a name is given."""
    requirements = [f"{m.__name__}=={m.__version__}" for m in _runtime_modules()]
    info = mlflow.pyfunc.log_model(
        name="classifier",
        python_model=ExportedClassifier(),
        artifacts={"export": str(export_dir)},
        code_paths=[str(Path(pipeline.__file__).parent)],
        pip_requirements=requirements,
        registered_model_name=registered_name or None,
    )
    return info.model_uri


def _runtime_modules() -> list:
    import numpy
    import onnxruntime
    import tokenizers
    import transformers

    return [onnxruntime, transformers, tokenizers, numpy, pd]
