from types import SimpleNamespace

from tools.speed import bert_flops_per_text, machine_peak, markdown, measure


def test_flops_follow_the_shapes():
    config = SimpleNamespace(hidden_size=4, intermediate_size=8, num_hidden_layers=2, num_labels=3)
    total, text = bert_flops_per_text(config, tokens=5)
    per_layer = 2 * 4 * 16 * 5 + 2 * 2 * 25 * 4 + 2 * 2 * 4 * 8 * 5
    assert total == 2 * per_layer + 2 * 16 + 2 * 4 * 3
    assert f"{total / 1e6:.1f} MFLOPs" in text


def test_peak_is_positive_and_explained():
    peak = machine_peak()
    assert peak.flops > 1e9 and "GFLOP/s" in peak.arithmetic()


def test_measure_all_runtimes_on_the_tiny_run(pipeline_run):
    result = measure(pipeline_run["cfg"], sample=64, seconds=0.2)
    assert set(result["rates"]) == {"PyTorch eager fp32", "ONNX fp32", "ONNX int8"}
    assert all(rate > 0 for by_batch in result["rates"].values() for rate in by_batch.values())
    text = markdown(result)
    assert "| ONNX int8 |" in text
    assert ("of peak" in text) == ("flops" in result)  # the arithmetic is counted for BERT-style models
    export = pipeline_run["cfg"].paths.export
    assert result["files_mb"]["int8"] == (export / "model_quantized.onnx").stat().st_size / 1e6
    assert f"int8 {result['files_mb']['int8']:.1f} MB" in text and "M parameters" in text
