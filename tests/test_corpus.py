"""`pipeline predict` on a corpus: every format in and out with its other columns kept, streaming, --keep, shards
with resume, several processes, and bad input named by file and row with nothing complete lost."""

import json
import tracemalloc

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.corpus import job
from pipeline.corpus.formats import read_chunks
from pipeline.corpus.options import PredictOptions
from pipeline.runtime.predictor import Predictor

TEXTS = ["Guten Morgen, wie geht es dir?", "Доброе утро", "早上好", "صباح الخير", "Bonjour, comment ça va ?", "Good morning to you"]


@pytest.fixture
def export_dir(pipeline_run):
    return pipeline_run["cfg"].paths.export


@pytest.fixture
def expected(export_dir):
    return [p.label for p in Predictor(export_dir).predict(TEXTS)]


def write_input(path, texts=TEXTS, ids=None):
    """`texts` in the format of path's suffix, with an id column beside the text (not for .txt)."""
    ids = list(range(len(texts))) if ids is None else ids
    frame = pd.DataFrame({"id": ids, "text": texts})
    suffix = path.suffix
    if suffix == ".txt":
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    else:
        frame.to_parquet(path, index=False)
    return path


def read_output(path) -> pd.DataFrame:
    suffix = path.suffix
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if suffix in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    if suffix == ".txt":
        return pd.DataFrame({"text": path.read_text(encoding="utf-8").splitlines()})
    return pd.read_parquet(path)


def predict(*args) -> int:
    return main(["predict", *map(str, args)])


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".csv", ".tsv", ".parquet"])
def test_each_format_in_and_out_keeps_its_columns(tmp_path, export_dir, expected, suffix):
    source = write_input(tmp_path / f"in{suffix}")
    out = tmp_path / f"out{suffix}"
    if suffix == ".txt":  # a .txt output is the texts alone: what --keep kept
        assert predict(source, "--export", export_dir, "-o", out, "--keep", ",".join(set(expected))) == 0
        assert read_output(out)["text"].tolist() == TEXTS
        return
    assert predict(source, "--export", export_dir, "-o", out) == 0
    rows = read_output(out)
    assert rows.columns.tolist() == ["id", "text", "label", "score", "truncated"]
    assert rows["text"].tolist() == TEXTS and rows["label"].tolist() == expected
    assert [str(i) for i in rows["id"]] == [str(i) for i in range(len(TEXTS))]
    assert not list(tmp_path.glob("*.partial"))


def test_parquet_keeps_its_types_and_gets_top_k(tmp_path, export_dir, expected):
    source = tmp_path / "in.jsonl"
    write_input(source)
    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": pa.array(range(len(TEXTS)), pa.int32()), "text": TEXTS}), parquet_in)
    for name, given in (("from-jsonl", source), ("from-parquet", parquet_in)):
        out = tmp_path / f"{name}.parquet"
        assert predict(given, "--export", export_dir, "-o", out, "--top-k", "3") == 0
        table = pq.read_table(out)
        assert table.column("label").to_pylist() == expected
        for label, top in zip(table.column("label").to_pylist(), table.column("top_k").to_pylist(), strict=True):
            assert len(top) == 3 and label in (top[0]["label"], "unknown")
    assert pq.read_table(tmp_path / "from-parquet.parquet").schema.field("id").type == pa.int32()


def test_reading_is_streamed(tmp_path):
    """A 30 MB file read chunk by chunk holds about one chunk in memory, not the file."""
    source = tmp_path / "big.jsonl"
    line = json.dumps({"text": "x" * 300, "meta": "y" * 100}) + "\n"
    source.write_text(line * 75_000, encoding="utf-8")
    tracemalloc.start()
    rows = sum(len(chunk.rows) for chunk in read_chunks(source, "text", 1000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows == 75_000
    assert peak < 3 * 2**20, f"peak {peak / 2**20:.1f} MiB while reading a {source.stat().st_size / 2**20:.0f} MiB file"


def test_keep_and_rejected_split_the_rows(tmp_path, export_dir, expected):
    source = write_input(tmp_path / "in.csv")
    kept, rejected = tmp_path / "kept.jsonl", tmp_path / "rejected.parquet"
    labels = {"de", "ru"}
    assert predict(source, "--export", export_dir, "-o", kept, "--keep", "de,ru", "--min-score", "0.2", "--rejected", rejected) == 0
    kept_rows, rejected_rows = read_output(kept), read_output(rejected)
    assert len(kept_rows) + len(rejected_rows) == len(TEXTS)
    assert set(kept_rows["label"]) <= labels and (kept_rows["score"] >= 0.2).all()
    assert all(label not in labels or score < 0.2 for label, score in zip(rejected_rows["label"], rejected_rows["score"], strict=True))
    assert sorted(int(i) for i in [*kept_rows["id"], *rejected_rows["id"]]) == list(range(len(TEXTS)))


def test_processes_keep_the_input_order(tmp_path, export_dir):
    texts = [TEXTS[i % len(TEXTS)] + f" {i}" for i in range(300)]
    source = write_input(tmp_path / "in.jsonl", texts)
    outputs = {}
    for processes in (1, 2):
        out = tmp_path / f"out-{processes}.jsonl"
        # chunks of 7 rows: many chunks in flight at once, answered by either worker
        options = PredictOptions.of(export=export_dir, source=str(source), output=out, processes=processes, chunk_rows=7)
        summary, _ = job.run(options)
        assert summary.rows == 300
        outputs[processes] = out.read_text(encoding="utf-8")
    assert outputs[1] == outputs[2]
    assert [json.loads(line)["id"] for line in outputs[2].splitlines()] == list(range(300))


@pytest.mark.parametrize("processes", ["1", "2"])
def test_shards_resume(tmp_path, export_dir, capsys, processes):
    shards = tmp_path / "shards"
    (shards / "sub").mkdir(parents=True)
    write_input(shards / "a.jsonl", TEXTS[:3])
    write_input(shards / "sub" / "b.csv", TEXTS[3:])
    write_input(shards / "c.parquet", TEXTS)
    out = tmp_path / "out"
    args = ["--export", export_dir, "-o", out, "--format", "parquet", "--processes", processes]
    assert predict(shards, *args) == 0
    done = {p.relative_to(out).as_posix() for p in out.rglob("*")if p.is_file()}
    assert done == {"a.parquet", "sub/b.parquet", "c.parquet"}
    assert "3 shards classified, 0 already complete" in capsys.readouterr().err
    # b's run was cut off: only its partial file is there, which the rerun redoes; a and c are not touched
    kept = {name: (out / name).stat().st_mtime_ns for name in ("a.parquet", "c.parquet")}
    (out / "sub" / "b.parquet").rename(out / "sub" / "b.parquet.partial")
    assert predict(shards, *args) == 0
    assert "1 shards classified, 2 already complete" in capsys.readouterr().err
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept
    assert pd.read_parquet(out / "sub" / "b.parquet")["text"].tolist() == TEXTS[3:]
    assert not list(out.rglob("*.partial"))
    # a glob of the same shards, into another folder, each in its own format
    assert predict(f"{shards}/*.jsonl", "--export", export_dir, "-o", tmp_path / "globbed") == 0
    assert [p.name for p in (tmp_path / "globbed").iterdir()] == ["a.jsonl"]


def test_empty_texts_stop_the_run_or_are_left_out_and_counted(tmp_path, export_dir, capsys):
    source = tmp_path / "in.jsonl"
    rows = [{"text": "Guten Morgen"}, {"text": "   "}, {"text": None}, {"text": "Bonjour"}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(source, "--export", export_dir, "-o", out) == 2
    assert f"{source}: row 2: the text is empty" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    assert predict(source, "--export", export_dir, "-o", out, "--on-empty", "skip") == 0
    assert "2 empty texts left out" in capsys.readouterr().err
    assert read_output(out)["text"].tolist() == ["Guten Morgen", "Bonjour"]


def test_an_interrupted_run_leaves_no_output(tmp_path, export_dir, monkeypatch):
    from pipeline.corpus import stream

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second chunk is classified
        return classify(*args, **kwargs)

    classify = stream.classify
    monkeypatch.setattr(stream, "classify", interrupted)
    source = write_input(tmp_path / "in.jsonl", TEXTS * 3)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        job.run(PredictOptions.of(export=export_dir, source=str(source), output=out, chunk_rows=5))
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def _bad_inputs(tmp_path):
    """(file, what the error must say) for each kind of bad input."""
    cases = []
    txt = tmp_path / "latin1.txt"
    txt.write_bytes("Guten Morgen\nBonjour\ncaf\xe9 au lait\n".encode("latin-1"))
    cases.append((txt, f"{txt}: row 3: not UTF-8 (byte 0xe9"))
    csv_bad = tmp_path / "latin1.csv"
    csv_bad.write_bytes("id,text\n1,Guten Morgen\n2,\"caf\xe9\"\n".encode("latin-1"))
    cases.append((csv_bad, f"{csv_bad}: row 2: not UTF-8"))
    jsonl = tmp_path / "missing.jsonl"
    jsonl.write_text('{"text": "Guten Morgen"}\n{"sentence": "Bonjour"}\n', encoding="utf-8")
    cases.append((jsonl, f"{jsonl}: row 2: no column 'text'; it has sentence"))
    parquet = tmp_path / "missing.parquet"
    pq.write_table(pa.table({"sentence": TEXTS}), parquet)
    cases.append((parquet, f"{parquet}: no column 'text'; it has sentence"))
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet at all")
    cases.append((corrupt, f"{corrupt}: not a readable Parquet file"))
    damaged = tmp_path / "damaged.parquet"  # a sound footer, a data page overwritten in the middle
    pq.write_table(pa.table({"text": [f"sentence {i} " * 5 for i in range(20_000)]}), damaged, row_group_size=5000,
                   compression="none", use_dictionary=False)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2000] = b"\xff" * 2000
    damaged.write_bytes(bytes(data))
    cases.append((damaged, f"{damaged}: row 8193: the Parquet data cannot be read from this row on"))
    return cases


def test_bad_input_names_file_and_row_and_writes_nothing(tmp_path, export_dir, capsys):
    for source, message in _bad_inputs(tmp_path):
        out = tmp_path / "out.jsonl"
        assert predict(source, "--export", export_dir, "-o", out) == 2, source
        assert message in capsys.readouterr().err
        assert not out.exists() and not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_bad_shard_keeps_the_complete_ones(tmp_path, export_dir, capsys, processes):
    shards = tmp_path / "shards"
    shards.mkdir()
    write_input(shards / "a.jsonl", TEXTS)
    truncated = shards / "b.parquet"
    write_input(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-40])  # the footer cut off, as by a copy that stopped
    out = tmp_path / "out"
    assert predict(shards, "--export", export_dir, "-o", out, "--processes", processes) == 2
    assert f"{truncated}: not a readable Parquet file" in capsys.readouterr().err
    assert read_output(out / "a.jsonl")["text"].tolist() == TEXTS
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rejected", "r.jsonl"], "--rejected needs --keep or --min-score"),
        (["--keep", "de,xx"], "--keep: xx not among the export's labels"),
        (["-o", "{tmp}/out.txt"], "a .txt output holds only the texts"),
        (["-o", "{tmp}/out.jsonl", "--format", "csv"], "the output's suffix decides"),
        (["--min-score", "2"], "--min-score: Input should be less than or equal to 1"),
        (["--processes", "0"], "--processes must be at least 1"),
    ],
)
def test_wrong_options_are_named(tmp_path, export_dir, capsys, args, message):
    source = write_input(tmp_path / "in.jsonl")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert predict(source, "--export", export_dir, *args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("cpus", "processes", "actors"), [(3, "auto", 2), (8, 4, 4), (3, 5, 2), (1, "auto", 1)])
def test_ray_pool_leaves_a_cpu_for_reading_and_writing(cpus, processes, actors, caplog):
    """A pool on every CPU would never start: the tasks that list, read and write the files need one too."""
    from pipeline.corpus.ray_job import _pool_size

    assert _pool_size(cpus, processes) == actors
    assert ("one stays free for reading and writing" in caplog.text) == (processes == 5)
