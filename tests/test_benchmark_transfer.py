"""``eventroles benchmark transfer``: leave-one-out runs on the two tiny fixture corpora.

smoke annotates all five roles; smoke_notime annotates all but time. Runs are a few optimizer
steps of the random-weight smoke model, so the numbers are not the point: what is trained on
what, what is scored, and what the command prints and writes are.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.cli.benchmark import transfer_table
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.models.inference import Tagger
from eventroles.train.benchmark_transfer import TransferError, benchmark_transfer, corpora_seen_by_start
from eventroles.train.config import load_config
from eventroles.train.metrics import score_corpus

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SMOKE, NOTIME = FIXTURES / "smoke", FIXTURES / "smoke_notime"
SHORT = ["training.max_steps=12", "training.checkpoint_every=null", "training.eval_every=null"]


def write_config(tmp_path: Path, *folders: Path) -> Path:
    """configs/smoke.yaml with ``folders`` as its corpora (absolute paths)."""
    data = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    data["data"]["corpora"] = [{"path": str(folder)} for folder in folders]
    data["output"]["dir"] = str(tmp_path / "unused")
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def trained_on(model_dir: str) -> list[str]:
    meta = json.loads((Path(model_dir) / "eventroles.json").read_text())
    return [corpus["label"] for corpus in meta["corpora"]]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("transfer")
    config = load_config(write_config(tmp, SMOKE, NOTIME), SHORT)
    return benchmark_transfer(config, work_dir=tmp / "work")


def test_each_held_out_corpus_is_left_out_of_its_own_training_run(result: dict[str, Any]) -> None:
    assert result["holdouts"] == ["smoke", "smoke_notime"]
    assert trained_on(result["in_domain"]["model_dir"]) == ["smoke", "smoke_notime"]
    assert trained_on(result["transfer"]["smoke"]["model_dir"]) == ["smoke_notime"]
    assert trained_on(result["transfer"]["smoke_notime"]["model_dir"]) == ["smoke"]
    folders = {result["in_domain"]["model_dir"], *(run["model_dir"] for run in result["transfer"].values())}
    assert len(folders) == 3, "every run needs its own model folder"


def test_only_roles_the_held_out_corpus_annotates_are_scored(result: dict[str, Any]) -> None:
    notime = result["transfer"]["smoke_notime"]
    assert notime["roles"] == ["attacker", "target", "location", "weapon"]
    assert "time" not in notime["scores"]["overlap"] and "time" not in notime["ratios"]
    assert [r["role"] for r in result["rows"] if r["holdout"] == "smoke_notime"] == [*notime["roles"], "micro"]
    assert "time" not in result["in_domain"]["scores"]["smoke_notime"]["roles"]
    # smoke does annotate time, but its leave-one-out run trains only on smoke_notime, which does not.
    smoke = result["transfer"]["smoke"]
    assert "time" in smoke["roles"] and smoke["untrained_roles"] == ["time"]
    time_row = next(r for r in result["rows"] if r["holdout"] == "smoke" and r["role"] == "time")
    assert time_row["in_training_data"] is False
    assert any("annotates time" in note for note in result["notes"])
    # the fixtures' roles have a few spans each: every role with a ratio is named as weak evidence
    [weak] = [note for note in result["notes"] if "say little" in note]
    with_ratio = [r for r in result["rows"] if r["role"] != "micro" and r["overlap_ratio"] is not None]
    assert with_ratio and all(f"{r['holdout']} {r['role']} ({r['support']} spans" in weak for r in with_ratio)


def test_scores_are_the_test_split_scored_by_the_written_models(result: dict[str, Any]) -> None:
    gold = read_jsonl_file(SMOKE / "test.jsonl", corpus="smoke")
    for run, scores in ((result["transfer"]["smoke"], result["transfer"]["smoke"]["scores"]),
                        (result["in_domain"], result["in_domain"]["scores"]["smoke"])):
        tagger = Tagger.load(run["model_dir"], device="cpu", precision="fp32")
        again = score_corpus(gold, tagger.predict_documents(gold))
        assert scores["documents"] == len(gold) == 8
        for measure in ("seqeval", "exact", "overlap"):
            assert scores[measure] == again[measure], measure


def test_ratio_is_leave_one_out_overlap_f1_over_in_domain_overlap_f1(result: dict[str, Any]) -> None:
    assert result["target_ratio"] == 0.60
    for row in result["rows"]:
        holdout, role = row["holdout"], row["role"]
        transfer = result["transfer"][holdout]["scores"]["overlap"][role]["f1"]
        in_domain = result["in_domain"]["scores"][holdout]["overlap"][role]["f1"]
        assert row["transfer_overlap_f1"] == transfer and row["in_domain_overlap_f1"] == in_domain
        if in_domain > 0:
            assert row["overlap_ratio"] == pytest.approx(transfer / in_domain)
            assert row["meets_target"] == (row["overlap_ratio"] >= 0.60)
        else:
            assert row["overlap_ratio"] is None and row["meets_target"] is None
        for key in ("support", "transfer_seqeval_f1", "transfer_exact_f1", "in_domain_seqeval_f1", "in_domain_exact_f1"):
            assert key in row
    role_rows = [r for r in result["rows"] if r["role"] != "micro"]
    assert result["summary"]["roles_scored"] == len(role_rows) == 9
    json.dumps(result)  # plain data all the way down


def test_tables_show_every_row(result: dict[str, Any]) -> None:
    text = "\n".join(transfer_table(result))
    assert "LOO overlap" in text and "in-domain overlap" in text and "overlap ratio" in text
    assert sum(1 for line in text.splitlines() if line.startswith("smoke_notime")) == 5
    assert "time *" in text and "* no training corpus" in text
    markdown = [line for line in transfer_table(result, markdown=True) if line.startswith("|")]
    assert len(markdown) == 2 + len(result["rows"])
    assert len({line.count(" | ") for line in markdown}) == 1, "every markdown row has the same columns"
    assert any("| **micro** |" in line for line in markdown)
    assert any("| time \\* |" in line for line in markdown), "a bare * would start emphasis in markdown"


def test_a_second_run_reuses_models_trained_with_the_same_config(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, SMOKE, NOTIME), SHORT)
    logs: list[str] = []
    first = benchmark_transfer(config, work_dir=tmp_path / "work", holdouts=["smoke"])
    # another thread count does not change the weights: still the same models
    threads = load_config(write_config(tmp_path, SMOKE, NOTIME), [*SHORT, "training.threads=1"])
    again = benchmark_transfer(threads, work_dir=tmp_path / "work", holdouts=["smoke"], log=logs.append)
    assert not first["in_domain"]["reused"] and again["in_domain"]["reused"] and again["transfer"]["smoke"]["reused"]
    assert sum("reusing" in line for line in logs) == 2
    assert again["rows"] == first["rows"], "a reused model scores as it did"
    # another config (a changed setting) is trained afresh, saying which key differs; so is everything with reuse off
    other = load_config(write_config(tmp_path, SMOKE, NOTIME), [*SHORT, "training.seed=99"])
    logs.clear()
    changed = benchmark_transfer(other, work_dir=tmp_path / "work", holdouts=["smoke"], log=logs.append)
    assert not changed["in_domain"]["reused"] and not changed["transfer"]["smoke"]["reused"]
    assert any("not reusing" in line and "training.seed" in line for line in logs), logs
    forced = benchmark_transfer(other, work_dir=tmp_path / "work", holdouts=["smoke"], reuse=False)
    assert not forced["in_domain"]["reused"]


def test_library_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="at least two corpora"):
        benchmark_transfer(load_config(write_config(tmp_path, SMOKE)), work_dir=tmp_path / "w")
    with pytest.raises(TransferError, match="--holdout nope: not a corpus of this config"):
        benchmark_transfer(load_config(write_config(tmp_path, SMOKE, NOTIME)), holdouts=["nope"], work_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists(), "nothing may be trained before the request is checked"


def test_a_start_that_saw_the_held_out_corpus_is_refused(result: dict[str, Any], tmp_path: Path) -> None:
    # init_from the in-domain model (trained on both corpora): every leave-one-out model would start from it
    config = load_config(write_config(tmp_path, SMOKE, NOTIME),
                         [*SHORT, "model.random=null", f"model.init_from={result['in_domain']['model_dir']}"])
    with pytest.raises(TransferError, match=r"smoke \(by model.init_from .*in_domain\)"):
        benchmark_transfer(config, work_dir=tmp_path / "w", holdouts=["smoke"])
    assert not (tmp_path / "w").exists(), "refused before anything is trained"
    # a backbone that `eventroles pretrain` wrote from another pretrained one: the whole chain counts
    first, second = tmp_path / "pt1", tmp_path / "pt2"
    for folder, source, corpora in ((first, "minilm", ["smoke_notime"]), (second, str(first), ["other"])):
        folder.mkdir()
        (folder / "eventroles_pretrain.json").write_text(json.dumps({"source": source, "corpora": corpora, "steps": 1}))
    chained = load_config(write_config(tmp_path, SMOKE, NOTIME), [*SHORT, "model.random=null", f"model.backbone={second}"])
    seen, unknown = corpora_seen_by_start(chained)
    assert set(seen) == {"smoke_notime", "other"} and str(first) in seen["smoke_notime"][0] and not unknown
    with pytest.raises(TransferError, match="smoke_notime"):
        benchmark_transfer(chained, work_dir=tmp_path / "w", holdouts=["smoke_notime"])
    # with model.random the backbone folder is never loaded: nothing can leak through it
    random = load_config(write_config(tmp_path, SMOKE, NOTIME), [*SHORT, f"model.backbone={second}"])
    assert corpora_seen_by_start(random) == ({}, [])
    # a link in the chain that is not there cannot be checked: refused, not taken as clean
    (first / "eventroles_pretrain.json").write_text(json.dumps({"source": str(tmp_path / "gone"), "corpora": [], "steps": 1}))
    with pytest.raises(TransferError, match="cannot tell which corpora.*gone"):
        benchmark_transfer(chained, work_dir=tmp_path / "w", holdouts=["smoke"])
    assert not (tmp_path / "w").exists()


def test_cli_skips_a_corpus_without_test_split_and_writes_json(tmp_path: Path, runner: CliRunner,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    notest = tmp_path / "notest"
    notest.mkdir()
    for split in ("train", "dev"):
        shutil.copy(NOTIME / f"{split}.jsonl", notest / f"{split}.jsonl")
    config = write_config(tmp_path, SMOKE, notest)
    out = tmp_path / "transfer.json"
    work = tmp_path / "output" / "transfer" / "transfer"  # the default: output/transfer/<config's name>
    monkeypatch.chdir(tmp_path)
    overrides = [item for o in ["training.max_steps=6", *SHORT[1:]] for item in ("--set", o)]
    result = runner.invoke(app, ["benchmark", "transfer", str(config), *overrides, "--json", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "held out" in result.stdout and "overlap ratio" in result.stdout
    assert sum(1 for line in result.stdout.splitlines() if line.startswith("smoke ")) == 6  # 5 roles + micro
    assert "skipping notest: no test split" in result.stderr
    data = json.loads(out.read_text())
    for key in ("test_split", "target_ratio", "corpora", "holdouts", "skipped", "in_domain", "transfer", "rows",
                "notes", "summary", "config"):
        assert key in data, key
    assert data["holdouts"] == ["smoke"] and [s["corpus"] for s in data["skipped"]] == ["notest"]
    assert data["corpora"] == ["smoke", "notest"] and data["config"] == str(config)
    assert data["overrides"][0] == "training.max_steps=6" and data["settings"]["training"]["max_steps"] == 6
    assert Path(data["in_domain"]["model_dir"]).resolve() == (work / "in_domain").resolve()
    assert trained_on(data["in_domain"]["model_dir"]) == ["smoke", "notest"]  # still trains in-domain
    assert trained_on(data["transfer"]["smoke"]["model_dir"]) == ["notest"]
    assert not (work / "without_notest").exists()


def test_cli_one_corpus_config_is_a_clean_error(tmp_path: Path, runner: CliRunner) -> None:
    config = write_config(tmp_path, SMOKE)
    result = runner.invoke(app, ["benchmark", "transfer", str(config), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 1
    assert "leave-one-out needs at least two corpora" in result.output and "(smoke)" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (tmp_path / "w").exists()


def test_cli_bad_override_and_unknown_holdout_are_clean_errors(tmp_path: Path, runner: CliRunner) -> None:
    config = write_config(tmp_path, SMOKE, NOTIME)
    bad = runner.invoke(app, ["benchmark", "transfer", str(config), "--set", "training.max_stepz=3"])
    assert bad.exit_code == 1 and "training.max_stepz: unknown key" in bad.output
    unknown = runner.invoke(app, ["benchmark", "transfer", str(config), "--holdout", "muc4"])
    assert unknown.exit_code == 1 and "its corpora: smoke, smoke_notime" in unknown.output


def test_cli_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(app, ["benchmark", "transfer", "--help"])
    assert result.exit_code == 0
    assert "eventroles benchmark transfer configs/" in result.output and "--holdout" in result.output


def test_a_model_trained_on_other_data_is_not_reused(tmp_path: Path) -> None:
    smoke, notime = tmp_path / "smoke", tmp_path / "smoke_notime"
    shutil.copytree(SMOKE, smoke)
    shutil.copytree(NOTIME, notime)
    config = load_config(write_config(tmp_path, smoke, notime), SHORT)
    first = benchmark_transfer(config, work_dir=tmp_path / "work", holdouts=["smoke"])
    assert not first["in_domain"]["reused"]
    # the corpus is edited (or downloaded again at another commit): same config, other documents
    line = json.loads((smoke / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    line["id"] = "added"
    with (smoke / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    logs: list[str] = []
    again = benchmark_transfer(config, work_dir=tmp_path / "work", holdouts=["smoke"], log=logs.append)
    assert not again["in_domain"]["reused"], "the in-domain model was trained on the corpus before the edit"
    assert again["transfer"]["smoke"]["reused"], "the model without smoke never read it"
    assert any("not reusing" in line and "documents of smoke are not the ones" in line for line in logs), logs


def test_cli_refuses_an_unwritable_json_before_hours_of_training(tmp_path: Path, runner: CliRunner) -> None:
    config = write_config(tmp_path, SMOKE, NOTIME)
    (tmp_path / "notes.txt").write_text("x")
    result = runner.invoke(app, ["benchmark", "transfer", str(config), "--work-dir", str(tmp_path / "w"),
                                 "--json", str(tmp_path / "notes.txt" / "transfer.json")])
    assert result.exit_code == 1 and "notes.txt is a file, not a folder" in result.output
    assert not (tmp_path / "w").exists()  # nothing trained
