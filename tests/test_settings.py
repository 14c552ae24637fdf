import os
import re

import pytest

from pipeline.runtime.cores import usable_cores
from serving.settings import ServeSettings

DEFAULTS = {
    "model_tag": "textclf:latest", "quantized": None, "max_items": 64, "max_chars": 20_000,
    "max_body_bytes": 16 * 1024 * 1024, "max_batch_size": 64, "max_latency_ms": 2_000,
    "inference_batch_size": 16, "concurrent_batches": 2, "workers": usable_cores(), "abstain_below": None,
    "unseen_scripts_unknown": True, "api_key": None, "file_keys": (),
}
NOT_INTEGERS = ("model_tag", "quantized", "abstain_below", "unseen_scripts_unknown", "api_key", "file_keys")


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
    "name", [name for name in DEFAULTS if name not in NOT_INTEGERS]
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


def test_no_key_by_default_means_no_key_needed():
    assert ServeSettings.from_env().api_keys == ()


def test_api_key_and_key_file_are_all_accepted(monkeypatch, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# the new key\nnew-key-2\n\n   \n  # the old one, until clients move\n  old-key-1  \n")
    monkeypatch.setenv("TEXTCLF_API_KEY", " env-key\n")
    monkeypatch.setenv("TEXTCLF_API_KEY_FILE", str(keys))
    settings = ServeSettings.from_env()
    assert settings.api_keys == ("env-key", "new-key-2", "old-key-1")
    assert "env-key" not in repr(settings) and "old-key-1" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "names a file with no key in it (only blank lines and # comments)"),
     ("# only a comment\n\n  \n", "names a file with no key in it"),
     ("good-key\nsecret with spaces\n", "names a file whose line 2 is not a key (printable ASCII without spaces)"),
     ("clé-secrète\n", "names a file whose line 1 is not a key")],
    ids=["empty", "comments only", "a key with spaces", "non-ASCII key"],
)
def test_a_key_file_without_usable_keys_names_the_file_not_the_keys(monkeypatch, tmp_path, text, message):
    keys = tmp_path / "keys"
    keys.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TEXTCLF_API_KEY_FILE", str(keys))
    with pytest.raises(ValueError, match=f"^environment variable TEXTCLF_API_KEY_FILE {re.escape(message)}.*, got '{re.escape(str(keys))}'$") as err:
        ServeSettings.from_env()
    assert "secret" not in str(err.value) and "clé" not in str(err.value)


def test_a_missing_key_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCLF_API_KEY_FILE", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match=f"^environment variable TEXTCLF_API_KEY_FILE names a file that does not exist, got '{re.escape(str(tmp_path / 'nope'))}'$"):
        ServeSettings.from_env()


@pytest.mark.parametrize(("raw", "message"), [("", "is empty: unset it to serve without a key"),
                                             ("secret with spaces", "must be printable ASCII without spaces")])
def test_a_bad_api_key_is_refused_without_showing_it(monkeypatch, raw, message):
    monkeypatch.setenv("TEXTCLF_API_KEY", raw)
    with pytest.raises(ValueError, match=f"^environment variable TEXTCLF_API_KEY {message}$"):
        ServeSettings.from_env()


def test_settings_are_frozen():
    settings = ServeSettings.from_env()
    with pytest.raises(ValueError):
        settings.workers = 2
    assert settings.model_copy(update={"workers": 2}).workers == 2
