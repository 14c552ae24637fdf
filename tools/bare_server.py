"""The reference `make bench` holds the BentoML service to: a bare Starlette app on uvicorn over the same Predictor.

One worker, no batching, no validation beyond what JSON parsing does, inference inline on the event loop, and
uvicorn's own defaults (its access log on, as BentoML's is): the least an HTTP endpoint over this model costs as
one would first write it. Not a product server (no limits, no probes but /readyz, no metrics); run it with
`python -m tools.bare_server EXPORT_DIR --port N`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from pipeline.runtime.predictor import Predictor


def build_app(export_dir: Path) -> Starlette:
    predictor = Predictor(export_dir)  # int8 when the export has it, as the service

    async def classify(request: Request) -> JSONResponse:
        body = await request.json()
        predictions = predictor.predict(body["texts"], top_k=body.get("top_k", 1))
        return JSONResponse([p.to_dict() for p in predictions])

    async def ready(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/classify", classify, methods=["POST"]), Route("/readyz", ready)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export", type=Path, help="the export folder")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(build_app(args.export), host="127.0.0.1", port=args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
