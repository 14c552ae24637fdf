"""The export folder as an MLflow pyfunc model, so the registry entry is the servable artifact itself.

`mlflow.pyfunc.load_model("models:/<name>/<version>").predict(["some text"])` runs the same Predictor
as the BentoML service, on the same ONNX file and tokenizer. It lives in the runtime because the logged
model ships only the runtime's code: no torch, no training code.
"""

from __future__ import annotations

import mlflow
import pandas as pd

from pipeline.runtime.predictor import Predictor


class ExportedClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow's PythonModelContext
        self.predictor = Predictor(context.artifacts["export"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ANN001
        texts = model_input.iloc[:, 0].tolist() if isinstance(model_input, pd.DataFrame) else list(model_input)
        predictions = self.predictor.predict(texts)
        return pd.DataFrame([{"label": p.label, "score": p.score} for p in predictions])
