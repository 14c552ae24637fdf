"""A stage whose inputs are unchanged is skipped by the CLI; any change to what it reads makes it run again."""

import json
import shutil

import mlflow
import pytest

from pipeline.cli import main
from pipeline.stages import fingerprint
from pipeline.stages.tracking import tracking_uri

from conftest import ROOT, tiny_overrides

STAGES = ["prepare", "train", "evaluate", "export"]


def cli(stage, root, *extra, force=False):
    args = [stage, "--config", str(ROOT / "configs/default.yaml"), *tiny_overrides(root), *extra]
    return main(args + (["--force"] if force else []))


def run_count(cfg) -> int:
    mlflow.set_tracking_uri(tracking_uri(cfg))
    return len(mlflow.search_runs(experiment_names=[cfg.mlflow.experiment], output_format="list"))


def said_up_to_date(capsys) -> list[str]:
    err = capsys.readouterr().err
    return [stage for stage in STAGES if f"{stage}: up to date" in err]


@pytest.fixture
def copied_run(pipeline_run, tmp_path):
    """A copy of the session's tiny run (mtimes kept), so a test may change it without touching the others."""
    root = tmp_path / "project"
    shutil.copytree(pipeline_run["cfg"].root, root)
    return root


def test_rerun_of_the_shared_run_is_up_to_date_and_logs_nothing(pipeline_run, capsys):
    cfg = pipeline_run["cfg"]
    before = run_count(cfg)
    for stage in STAGES:
        assert cli(stage, cfg.root) == 0
    out, err = capsys.readouterr()
    assert [s for s in STAGES if f"{s}: up to date" in err] == STAGES
    assert json.loads(out.strip().splitlines()[-1])["accuracy"] == pipeline_run["evaluate"].metrics["accuracy"]
    assert run_count(cfg) == before  # no MLflow run for a skipped stage


def test_a_copied_project_keeps_its_stamps(copied_run, capsys):
    assert cli("export", copied_run) == 0
    assert said_up_to_date(capsys) == ["export"]


def test_a_changed_key_reruns_that_stage_and_what_follows_it_only(copied_run, capsys):
    assert cli("evaluate", copied_run, "evaluate.batch_size=7") == 0
    assert said_up_to_date(capsys) == []  # evaluate read a new key: it ran
    assert cli("train", copied_run, "evaluate.batch_size=7") == 0
    assert said_up_to_date(capsys) == ["train"]  # train does not read evaluate.*
    assert cli("export", copied_run, "evaluate.batch_size=7") == 0
    assert said_up_to_date(capsys) == ["export"]


def test_a_deleted_output_and_force_rerun(copied_run, capsys):
    (copied_run / "artifacts" / "default" / "export" / "model_quantized.onnx").unlink()
    assert cli("export", copied_run) == 0
    assert said_up_to_date(capsys) == []
    assert (copied_run / "artifacts" / "default" / "export" / "model_quantized.onnx").is_file()
    assert cli("export", copied_run) == 0
    assert said_up_to_date(capsys) == ["export"]
    assert cli("export", copied_run, force=True) == 0
    assert said_up_to_date(capsys) == []


def test_retraining_makes_the_downstream_stages_stale(copied_run, capsys):
    assert cli("train", copied_run, "train.epochs=1") == 0
    assert said_up_to_date(capsys) == []
    assert cli("evaluate", copied_run, "train.epochs=1") == 0
    assert said_up_to_date(capsys) == []  # the model it reads changed


def test_edited_source_file_makes_prepare_stale(tmp_path):
    from conftest import tiny_config

    train_file = tmp_path / "train.csv"
    train_file.write_text("text,label\n" + "".join(f"sentence number {i},{'ab'[i % 2]}\n" for i in range(40)))
    cfg = tiny_config(tmp_path, **{"data.source": "files", "data.train_file": str(train_file), "data.languages": "[]"})
    from pipeline.stages.prepare import prepare

    prepare(cfg)
    assert fingerprint.up_to_date(cfg, "prepare") is not None
    with train_file.open("a") as handle:
        handle.write("one more sentence,a\n")
    assert fingerprint.up_to_date(cfg, "prepare") is None


def test_edited_extra_train_file_changes_the_prepare_fingerprint(tmp_path):
    from conftest import tiny_config

    folder = tmp_path / "tatoeba"
    folder.mkdir()
    extra = folder / "tatoeba.deu-eng.deu"
    extra.write_text("Ich bin hier.\n")
    cfg = tiny_config(tmp_path, **{"data.extra_train": f"[{{source: tatoeba, path: {folder}}}]"})
    before = fingerprint.inputs_fingerprint(cfg, "prepare")
    with extra.open("a") as handle:
        handle.write("Du bist dort.\n")
    assert fingerprint.inputs_fingerprint(cfg, "prepare") != before


def test_a_stage_that_dies_leaves_no_stamp(copied_run, monkeypatch):
    from pipeline.stages import export as export_stage

    from conftest import tiny_config

    cfg = tiny_config(copied_run)
    assert fingerprint.up_to_date(cfg, "export") is not None

    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(export_stage, "load_trained", boom)
    with pytest.raises(RuntimeError, match="killed"):
        export_stage.export(cfg)
    assert not fingerprint.stamp_path(cfg, "export").exists()
    assert fingerprint.up_to_date(cfg, "export") is None


def test_a_stale_upstream_stage_runs_first_and_force_reruns_only_the_named_stage(copied_run, capsys):
    from conftest import tiny_config

    cfg = tiny_config(copied_run)
    stamps = {stage: fingerprint.stamp_path(cfg, stage).read_text() for stage in STAGES}
    assert cli("export", copied_run, force=True) == 0
    assert said_up_to_date(capsys) == []
    assert fingerprint.stamp_path(cfg, "train").read_text() == stamps["train"]  # --force reran export alone
    assert fingerprint.stamp_path(cfg, "export").read_text() != stamps["export"]
    (cfg.paths.data / "train.jsonl").unlink()  # prepare's output gone: prepare, train and evaluate are stale
    assert cli("evaluate", copied_run) == 0
    assert said_up_to_date(capsys) == []
    assert (cfg.paths.data / "train.jsonl").is_file()
    for stage in ("prepare", "train", "evaluate"):
        assert fingerprint.stamp_path(cfg, stage).read_text() != stamps[stage], stage
        assert fingerprint.up_to_date(cfg, stage) is not None, stage
    assert fingerprint.up_to_date(cfg, "export") is None  # downstream of the retrained model, not asked for


def test_the_registry_is_what_the_cli_and_make_offer():
    import argparse

    from pipeline.cli import parser
    from pipeline.stages.registry import STAGES as REGISTRY
    from pipeline.stages.registry import upstream_of

    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == {*REGISTRY, "config", "predict"}
    makefile = (ROOT / "Makefile").read_text()
    for name, stage in REGISTRY.items():
        assert stage.function().__module__ == f"pipeline.stages.{name}"
        assert f"\n{name}: " in makefile, f"make has no {name} target"
        assert set(stage.upstream) <= set(REGISTRY)
    assert upstream_of("evaluate") == ["prepare", "train"]
    assert upstream_of("prepare") == []


def test_every_key_a_stage_reads_is_a_config_key():
    """A misspelt key in the registry would never be fingerprinted (a key of another model kind reads as None)."""
    from pipeline.config import MODEL_KINDS, Config
    from pipeline.stages.registry import STAGES as REGISTRY

    for stage in REGISTRY.values():
        for key in stage.keys:
            section, *rest = key.split(".")
            assert section in Config.model_fields, key
            if rest and section == "model":
                assert any(rest[0] in kind.model_fields for kind in MODEL_KINDS.values()), key
            elif rest:
                assert rest[0] in Config.model_fields[section].annotation.model_fields, key


def test_a_changed_data_key_makes_every_stage_below_prepare_stale(copied_run, capsys):
    from conftest import tiny_config

    cfg = tiny_config(copied_run)
    train_stamp = fingerprint.stamp_path(cfg, "train").read_text()
    assert cli("evaluate", copied_run, "data.max_eval_per_label=15") == 0
    assert said_up_to_date(capsys) == []
    assert fingerprint.stamp_path(cfg, "train").read_text() != train_stamp  # retrained on the new split, not reused
    changed = tiny_config(copied_run, **{"data.max_eval_per_label": "15"})
    assert [fingerprint.up_to_date(changed, s) is not None for s in STAGES] == [True, True, True, False]
    assert fingerprint.up_to_date(cfg, "train") is None  # the old data config's model is gone
