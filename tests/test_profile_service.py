"""`make profile-service`'s tool on the tiny run's export: each server answers the one-text requests it times, the
cProfile pass is split by library, and the report is written from those figures."""

import json

import pytest

from pipeline.data.prepared import read_split
from tools.profile_service import (
    BARE,
    LAYERS_OFF,
    PREDICTOR,
    SERVED,
    VARIANTS,
    in_child,
    layers,
    markdown,
    time_variant,
)


@pytest.fixture(scope="module")
def texts(pipeline_run):
    return read_split(pipeline_run["cfg"].paths.data, "test")["text"].tolist()


@pytest.mark.parametrize("variant", [BARE, PREDICTOR])
def test_a_variant_answers_every_request_and_is_timed(variant, pipeline_run, texts):
    # time_variant raises when a request is not answered 200
    assert time_variant(variant, pipeline_run["cfg"].paths.export, texts, 30) > 0


def test_the_service_profile_is_split_by_library(pipeline_run, texts, tmp_path):
    # in a child process, as the tool runs it: a second service app in this process would register BentoML's
    # metrics twice
    sample, profile = tmp_path / "texts.json", tmp_path / "service.prof"
    sample.write_text(json.dumps(texts), encoding="utf-8")
    assert in_child(SERVED, pipeline_run["cfg"].paths.export, sample, 30, profile) > 0
    spent = layers(profile, 30)
    # the request crosses BentoML's routing and Starlette, and waits for the dispatcher's inference thread
    for layer in ("BentoML routing, IO and context", "Starlette", "waiting for the batching window and the inference thread"):
        assert spent.get(layer, 0) > 0, spent


def test_the_report_names_each_variant_and_what_each_layer_saves():
    us = {BARE: 200.0, SERVED: 900.0, PREDICTOR: 150.0} | {v: 800.0 for v in LAYERS_OFF}
    result = {
        "requests": 10, "rounds": {v: [t, t] for v, t in us.items()}, "us_per_request": us,
        "profiled_us_per_request": 2000.0, "layers_us": {"Starlette": 100.0, "other": 50.0},
    }
    text = markdown(result, "make profile-service", "tiny")
    assert all(f"| {v} |" in text for v in VARIANTS)
    assert "BentoML's layers cost 700 µs a request over the bare app's 200" in text
    assert "access log off saves 100 µs" in text and "| Starlette | 100 | 67% |" in text
