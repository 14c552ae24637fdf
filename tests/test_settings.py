import pytest

from serving.settings import ServeSettings


def test_defaults_when_nothing_is_set(monkeypatch):
    for name in ("TEXTCLF_MODEL", "TEXTCLF_QUANTIZED", "TEXTCLF_MAX_ITEMS", "TEXTCLF_CONCURRENT_BATCHES", "TEXTCLF_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    settings = ServeSettings.from_env()
    assert settings.model_tag == "textclf:latest" and settings.quantized is None  # int8 when the export has it
    assert settings.max_items == 64 and settings.concurrent_batches == 2 and settings.workers == 1


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("TEXTCLF_QUANTIZED", "false")
    monkeypatch.setenv("TEXTCLF_CONCURRENT_BATCHES", "1")
    monkeypatch.setenv("TEXTCLF_WORKERS", "3")
    settings = ServeSettings.from_env()
    assert settings.quantized is False and settings.concurrent_batches == 1 and settings.workers == 3


def test_quantized_flag_rejects_what_it_cannot_read(monkeypatch):
    monkeypatch.setenv("TEXTCLF_QUANTIZED", "maybe")
    with pytest.raises(ValueError, match="TEXTCLF_QUANTIZED must be true, false or auto, got 'maybe'"):
        ServeSettings.from_env()


@pytest.mark.parametrize("raw, message", [("two", "must be an integer"), ("0", "must be at least 1")])
def test_bad_values_name_the_variable(monkeypatch, raw, message):
    monkeypatch.setenv("TEXTCLF_CONCURRENT_BATCHES", raw)
    with pytest.raises(ValueError, match=f"TEXTCLF_CONCURRENT_BATCHES {message}"):
        ServeSettings.from_env()
