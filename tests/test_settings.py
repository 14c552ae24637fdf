import os

import pytest

from serving.settings import ServeSettings

DEFAULTS = {
    "model_tag": "textclf:latest", "quantized": None, "max_items": 64, "max_chars": 20_000,
    "max_body_bytes": 16 * 1024 * 1024, "max_batch_size": 64, "max_latency_ms": 2_000,
    "inference_batch_size": 16, "concurrent_batches": 2, "workers": 1, "abstain_below": None,
    "unseen_scripts_unknown": True,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.upper().startswith("TEXTCLF_"):
            monkeypatch.delenv(name)


def test_defaults_when_nothing_is_set():
    settings = ServeSettings.from_env()
    assert settings.model_dump() == DEFAULTS  # quantized None: int8 when the export has it


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("TEXTCLF_MODEL", "textclf:abc123")
    monkeypatch.setenv("TEXTCLF_QUANTIZED", "false")
    monkeypatch.setenv("TEXTCLF_CONCURRENT_BATCHES", "1")
    monkeypatch.setenv("TEXTCLF_WORKERS", "3")
    monkeypatch.setenv("TEXTCLF_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("TEXTCLF_ABSTAIN_BELOW", "0.9")
    monkeypatch.setenv("TEXTCLF_UNSEEN_SCRIPTS_UNKNOWN", "false")
    monkeypatch.setenv("TEXTCLF_CACHE", "/elsewhere")  # another TEXTCLF_ variable, read by the pipeline, not here
    settings = ServeSettings.from_env()
    assert settings.model_tag == "textclf:abc123" and settings.quantized is False
    assert (settings.concurrent_batches, settings.workers, settings.max_body_bytes) == (1, 3, 1024)
    assert settings.abstain_below == 0.9 and settings.unseen_scripts_unknown is False


@pytest.mark.parametrize(
    "raw, expected", [("true", True), ("TRUE", True), ("yes", True), ("1", True), ("no", False), ("0", False),
                      ("auto", None), ("", None)]
)
def test_quantized_flag(monkeypatch, raw, expected):
    monkeypatch.setenv("TEXTCLF_QUANTIZED", raw)
    assert ServeSettings.from_env().quantized is expected


def test_quantized_flag_rejects_what_it_cannot_read(monkeypatch):
    monkeypatch.setenv("TEXTCLF_QUANTIZED", "maybe")
    with pytest.raises(ValueError, match="TEXTCLF_QUANTIZED must be true, false or auto, got 'maybe'"):
        ServeSettings.from_env()


@pytest.mark.parametrize(
    "name", [name for name in DEFAULTS if name not in ("model_tag", "quantized", "abstain_below", "unseen_scripts_unknown")]
)
@pytest.mark.parametrize("raw, message", [("two", "must be an integer"), ("0", "must be at least 1"), ("-3", "must be at least 1")])
def test_bad_values_name_the_variable(monkeypatch, name, raw, message):
    variable = f"TEXTCLF_{name.upper()}"
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ValueError, match=f"^environment variable {variable} {message}, got '{raw}'$"):
        ServeSettings.from_env()


@pytest.mark.parametrize("raw, message", [("high", "must be a number"), ("1", "must be under 1"), ("-0.5", "must be at least 0")])
def test_bad_abstain_threshold_names_the_variable(monkeypatch, raw, message):
    monkeypatch.setenv("TEXTCLF_ABSTAIN_BELOW", raw)
    with pytest.raises(ValueError, match=f"^environment variable TEXTCLF_ABSTAIN_BELOW {message}, got '{raw}'$"):
        ServeSettings.from_env()


def test_bad_unseen_scripts_switch_names_the_variable(monkeypatch):
    monkeypatch.setenv("TEXTCLF_UNSEEN_SCRIPTS_UNKNOWN", "sometimes")
    with pytest.raises(ValueError, match="^environment variable TEXTCLF_UNSEEN_SCRIPTS_UNKNOWN must be true or false, got 'sometimes'$"):
        ServeSettings.from_env()


def test_settings_are_frozen():
    settings = ServeSettings.from_env()
    with pytest.raises(ValueError):
        settings.workers = 2
    assert settings.model_copy(update={"workers": 2}).workers == 2
