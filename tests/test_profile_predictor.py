"""`make profile`'s tool on the tiny run's export: every step timed at every batch size, the Rust tokenizer beside
the numpy encoder, onnxruntime's operators from its own profiler, and the report written from those figures."""

from pipeline.data.prepared import read_split
from tools.profile_predictor import BATCHES, STEPS, markdown, measure


def test_profile_times_each_step_and_writes_the_tables(pipeline_run):
    cfg = pipeline_run["cfg"]
    texts = read_split(cfg.paths.data, "test")["text"].tolist()
    result = measure(cfg.paths.export, texts)
    for figures in (result["per_step_us"], result["rust_tokenizer_us"]):
        assert set(figures) == set(BATCHES)
        for steps in figures.values():
            assert all(steps[s] >= 0 for s in STEPS) and steps["predict() in all"] > 0
    assert result["per_step_us"][32]["pad"] == 0  # the numpy encoder pads as it encodes
    ops = result["operators_us_batch32"]
    assert "Gather" in ops and all(us > 0 for us in ops.values())
    memory = result["memory"]  # the tiny run's export is a char_ngram one
    assert memory["rows_per_sentence"] > 0 and memory["bound_random"] > 0 and memory["bound_stream"] > 0
    text = markdown(result, "make profile", cfg.run_name)
    assert "| **predict() in all** |" in text and "numpy encoder's speed-up" in text and "| Gather |" in text and "## What memory allows" in text
