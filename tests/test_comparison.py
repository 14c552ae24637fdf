from tools.comparison import load, main, table


def test_table_from_finished_runs(pipeline_run, capsys):
    reports = pipeline_run["cfg"].paths.reports.parent
    runs = {"a": load(reports, "default"), "b": load(reports, "default")}
    text = table(runs)
    accuracy = pipeline_run["evaluate"].metrics["accuracy"]
    assert f"| test accuracy | {accuracy:.4f} | {accuracy:.4f} |" in text
    assert "| zh |" in text and "| worst language |" in text


def test_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["nope", "--reports", str(tmp_path)]) == 2
    assert "run `make train evaluate" in capsys.readouterr().err


def test_compare_trains_each_kind_into_one_report(tmp_path):
    from tools.comparison import compare

    from conftest import ROOT, tiny_overrides

    overrides = tuple(o for o in tiny_overrides(tmp_path, "langid-transformer.yaml") if not o.startswith("export.registered_model_name"))
    out = compare(ROOT / "configs/langid-transformer.yaml", ("ngram_mlp", "textcnn"), tmp_path / "comparison.md", overrides)
    text = out.read_text()
    assert "| | ngram_mlp | textcnn |" in text
    assert "| int8 ONNX texts/s |" in text and "parity gate failed" not in text
    assert (tmp_path / "artifacts/langid-transformer-ngram_mlp/export/manifest.json").is_file()


def test_compare_tabulates_a_whole_config_beside_the_kinds(tmp_path):
    """`--with CONFIG` (make compare's default): that config trains as it is, on its own data, and gets a column
    named by its run and kind."""
    from tools.comparison import compare

    from conftest import ROOT, tiny_overrides

    # overrides apply to both configs: the tiny ones but the hashed table's rows, which the transformer's config lacks
    skip = ("export.registered_model_name", "model.ngram_buckets")
    overrides = tuple(o for o in tiny_overrides(tmp_path) if not o.startswith(skip))
    out = compare(ROOT / "configs/langid-transformer.yaml", (), tmp_path / "comparison.md", overrides, (ROOT / "configs/default.yaml",))
    text = out.read_text()
    assert "| | default (char_ngram) |" in text and "--with " in text
    assert (tmp_path / "artifacts/default/export/manifest.json").is_file()
