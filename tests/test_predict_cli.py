"""`pipeline predict`: files or stdin in, JSONL or CSV out, same answers as the predictor (tests/test_corpus.py: the rest)."""

import csv
import io
import json
import sys

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.runtime.predictor import Predictor


@pytest.fixture
def export_dir(pipeline_run):
    return pipeline_run["cfg"].paths.export


TEXTS = ["Guten Morgen, wie geht es dir?", "Доброе утро", "早上好", "صباح الخير"]


def test_txt_to_jsonl_matches_predictor(tmp_path, export_dir):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")  # a blank line is an empty text: left out with skip
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(source), "--export", str(export_dir), "-o", str(out), "--top-k", "2", "--on-empty", "skip"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == TEXTS
    assert [r["label"] for r in rows] == [p.label for p in Predictor(export_dir).predict(TEXTS)]
    assert all(len(r["top_k"]) == 2 for r in rows)


def test_csv_column_to_csv(tmp_path, export_dir):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": range(4), "sentence": TEXTS}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert main(["predict", str(source), "--column", "sentence", "--export", str(export_dir), "-o", str(out), "--format", "csv"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    # the input's columns as they were (the text stays under its own name), then the answers
    assert list(rows[0]) == ["id", "sentence", "label", "score", "truncated"]
    assert [r["sentence"] for r in rows] == TEXTS and all(0 < float(r["score"]) <= 1 for r in rows)


def test_stdin_to_stdout(monkeypatch, capsys, export_dir):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello there\nbonjour\n"))
    assert main(["predict", "--export", str(export_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["text"] == "bonjour"


def test_errors_are_clear_and_leave_no_output(tmp_path, export_dir, capsys):
    source = tmp_path / "in.csv"
    pd.DataFrame({"sentence": TEXTS}).to_csv(source, index=False)
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(source), "--export", str(export_dir), "-o", str(out)]) == 2
    assert "no column 'text'" in capsys.readouterr().err and not out.exists()
    assert main(["predict", str(source), "--export", str(tmp_path / "nope")]) == 2
    assert "export folder not found" in capsys.readouterr().err
    assert main(["predict", str(source), "--column", "sentence", "--export", str(export_dir), "--top-k", "0"]) == 2
    assert "top_k must be between" in capsys.readouterr().err


def test_unseen_scripts_are_unknown_unless_switched_off(tmp_path, export_dir):
    texts = ["សួស្តី ពិភពលោក", "ສະບາຍດີ ຂ້ອຍຮັກພາສາລາວ", "Guten Morgen, wie geht es dir?"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    rows = {}
    for name, flags in (("on", []), ("off", ["--no-unseen-scripts-unknown"])):
        out = tmp_path / f"{name}.jsonl"
        assert main(["predict", str(source), "--export", str(export_dir), "-o", str(out), "--top-k", "2", *flags]) == 0
        rows[name] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    off = Predictor(export_dir, unseen_scripts_unknown=False).predict(texts)
    assert [r["label"] for r in rows["off"]] == [p.label for p in off] and "unknown" not in [p.label for p in off]
    assert [r["label"] for r in rows["on"]] == ["unknown", "unknown", off[2].label]
    assert [r["top_k"] for r in rows["on"]] == [r["top_k"] for r in rows["off"]]
