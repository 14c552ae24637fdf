from pipeline.comparison import load, main, table


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
