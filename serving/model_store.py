"""Import an export folder into the BentoML model store, so a built Bento carries the model with it."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import bentoml
from bentoml.exceptions import NotFound

from pipeline.runtime.predictor import MANIFEST, ArtifactError, read_manifest, sha256

DEFAULT_NAME = "textclf"


def import_export(export_dir: Path, name: str = DEFAULT_NAME) -> bentoml.Model:
    """Copy the verified export folder into the store; labels and metrics become searchable metadata.

    Importing the same export twice returns the existing version instead of copying it again.
    """
    manifest = read_manifest(export_dir)
    digest = sha256(export_dir / MANIFEST)
    try:
        existing = bentoml.models.list(name)
    except NotFound:
        existing = []
    for model in existing:
        if model.info.metadata.get("manifest_sha256") == digest:
            return model
    labels = {"run_name": manifest.get("run_name", ""), "model_kind": manifest.get("model_kind", "")}
    metadata = {
        "model_name": manifest.get("model_name"),
        "mlflow_run_id": manifest.get("mlflow_run_id"),
        "labels": manifest["labels"],
        "metrics": manifest.get("metrics", {}),
        "manifest_sha256": digest,
    }
    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        for item in export_dir.iterdir():
            if item.is_file():
                shutil.copy(item, Path(model.path) / item.name)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export_dir", type=Path, help="an export folder written by `pipeline export`")
    parser.add_argument("--name", default=DEFAULT_NAME, help="model name in the BentoML store")
    args = parser.parse_args(argv)
    try:
        model = import_export(args.export_dir, args.name)
    except ArtifactError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(model.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
