"""``eventroles evaluate`` on tiny invented JSON-lines files (the predictions path)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventroles.cli import app

SHARED = Path(os.environ.get("EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)"
)

TEXT_A = "Rebels attacked the town of Kafr on Sunday. Police said the rebels fled north."
TEXT_B = "Gunmen shot two guards near the bank in Homs on Friday night."


def span(text: str, phrase: str, role: str, label: str | None = None) -> dict:
    start = text.index(phrase)
    item = {"start": start, "end": start + len(phrase), "role": role}
    if label:
        item["label"] = label
    return item


GOLD = [
    {"id": "a", "text": TEXT_A, "roles": ["attacker", "target", "location", "time"],
     "spans": [span(TEXT_A, "Rebels", "attacker", "PerpOrg"), span(TEXT_A, "the town of Kafr", "target", "Target"),
               span(TEXT_A, "Kafr", "location"), span(TEXT_A, "Sunday", "time")],
     "meta": {"entities": {"PerpOrg": [["rebels", "the rebels"]], "Target": [["the town of Kafr"]]}}},
    {"id": "b", "text": TEXT_B, "roles": ["attacker", "target", "location", "time"],
     "spans": [span(TEXT_B, "Gunmen", "attacker", "PerpInd"), span(TEXT_B, "two guards", "target", "Victim"),
               span(TEXT_B, "Homs", "location"), span(TEXT_B, "Friday night", "time")],
     "meta": {"entities": {"PerpInd": [["gunmen"]], "Victim": [["two guards"]]}}},
]
GOOD = [
    {"id": "a", "text": TEXT_A, "spans": [span(TEXT_A, "Rebels", "attacker", "PerpOrg"),
                                          span(TEXT_A, "Police", "attacker", "PerpInd") | {"score": 0.61}]},
    {"id": "b", "text": TEXT_B, "spans": [span(TEXT_B, "Gunmen", "attacker", "PerpInd"),
                                          span(TEXT_B, "two guards", "target", "Victim"),
                                          span(TEXT_B, "Homs", "location"), span(TEXT_B, "Friday", "time")]},
]
WEAK = [{"id": "b", "text": TEXT_B, "spans": [span(TEXT_B, "Gunmen", "attacker", "PerpInd")]}]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "gold": write(tmp_path / "gold.jsonl", GOLD),
        "good": write(tmp_path / "good.jsonl", GOOD),
        "weak": write(tmp_path / "weak.jsonl", WEAK),
    }


def run(runner: CliRunner, *args: str | Path):
    return runner.invoke(app, ["evaluate", *map(str, args)])


def test_scores_a_prediction_file(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run(runner, "--data", files["gold"], "--predictions", files["good"], "--json", out)
    assert result.exit_code == 0, result.output
    assert "seqeval (entity level, strict IOB2)" in result.output and "CEAF-REE" in result.output
    report = json.loads(out.read_text())
    scores = report["corpora"][str(files["gold"])]["systems"]["good"]
    # Correct: Rebels, Gunmen, two guards, Homs (4 of 6 predicted, 4 of 8 gold).
    assert scores["seqeval"]["micro"]["precision"] == pytest.approx(4 / 6)
    assert scores["seqeval"]["micro"]["recall"] == pytest.approx(4 / 8)
    # CEAF-REE over native labels: rebels, gunmen, two guards matched; police is a false positive.
    ceaf = scores["ceaf"]["scores"]["micro"]
    assert (ceaf["correct"], ceaf["predicted"], ceaf["support"]) == (3, 4, 4)


def test_empty_prediction_file_gives_zero_recall(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "r.json"
    result = run(runner, "-d", files["gold"], "-p", empty, "--json", out)
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())["corpora"][str(files["gold"])]["systems"]["empty"]
    assert scores["seqeval"]["micro"]["recall"] == 0.0
    assert scores["missing_predictions"] == 2


def test_several_systems_give_one_comparison_table(runner: CliRunner, files: dict[str, Path]) -> None:
    result = run(runner, "-d", files["gold"], "-p", files["good"], "-p", files["weak"], "--no-ceaf")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "good" in line)
    assert "weak" in header
    assert "CEAF-REE" not in result.output
    assert "missing predictions: 1" in result.output  # weak.jsonl has no document "a"


def test_markdown_output(runner: CliRunner, files: dict[str, Path]) -> None:
    result = run(runner, "-d", files["gold"], "-p", files["good"], "--markdown")
    assert result.exit_code == 0, result.output
    assert "| role | P | R | F1 | support |" in result.output
    assert "| **micro** |" in result.output


def test_seeds_report_mean_and_std(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "seeds.json"
    result = run(runner, "-d", files["gold"], "-p", files["good"], "-p", files["weak"], "--seeds", "--json", out)
    assert result.exit_code == 0, result.output
    assert "mean ± std (2 runs)" in result.output
    corpus = json.loads(out.read_text())["corpora"][str(files["gold"])]
    recall = corpus["mean_std"]["seqeval"]["micro"]["recall"]
    runs = [corpus["systems"][s]["seqeval"]["micro"]["recall"] for s in ("good", "weak")]
    assert recall["mean"] == pytest.approx(sum(runs) / 2)
    assert recall["std"] == pytest.approx(abs(runs[0] - runs[1]) / 2**0.5)  # sample std


def test_errors_file(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    errors = tmp_path / "errors.jsonl"
    result = run(runner, "-d", files["gold"], "-p", files["good"], "--errors", errors)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in errors.read_text().splitlines()]
    police = next(r for r in rows if r["text"] == "Police")
    assert police["kind"] == "false_positive" and police["system"] == "good"
    assert police["sentence"] == "Police said the rebels fled north."
    assert any(r["kind"] == "false_negative" and r["text"] == "Friday night" for r in rows)


def test_json_to_standard_output(runner: CliRunner, files: dict[str, Path]) -> None:
    result = run(runner, "-d", files["gold"], "-p", files["good"], "--json", "-")
    assert result.exit_code == 0, result.output
    assert "corpora" in json.loads(result.stdout)


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "nothing to evaluate"),
        (["-p", "GOOD", "--seeds"], "--seeds needs at least two"),
        (["-p", "MISSING"], "no such file"),
        (["-p", "CHANGED"], "differs from the gold text"),
        (["-p", "OTHER"], "none of its document ids"),
        (["EMPTYDIR"], "is incomplete: missing eventroles.json"),
    ],
)
def test_user_errors_exit_1_with_a_message(
    runner: CliRunner, files: dict[str, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    paths = {
        "GOOD": files["good"],
        "MISSING": tmp_path / "missing.jsonl",
        "CHANGED": write(tmp_path / "changed.jsonl", [{"id": "a", "text": TEXT_A.upper(), "spans": []}]),
        "OTHER": write(tmp_path / "other.jsonl", [{"id": "zz", "text": "x", "spans": []}]),
        "EMPTYDIR": tmp_path / "not_a_model",
    }
    paths["EMPTYDIR"].mkdir()
    result = run(runner, "-d", files["gold"], *[str(paths.get(a, a)) for a in extra])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_text_mismatch_names_the_file_and_which_text_is_which(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    squeezed = TEXT_A.replace("the town", "the  town")
    changed = write(tmp_path / "changed.jsonl", [{"id": "a", "text": squeezed, "spans": []},
                                                 {"id": "b", "text": TEXT_B.replace("Homs", "Homs "), "spans": []}])
    result = run(runner, "-d", files["gold"], "-p", files["good"], "-p", changed)
    assert result.exit_code == 1 and "Traceback" not in result.output
    at = TEXT_A.index("the town") + 4
    assert f"{changed} against {files['gold']}: 2 document(s) do not keep the gold text" in result.output
    assert "the predicted text of document 'a' differs" in result.output
    assert "Also: document 'b' (document 2 of the file)" in result.output  # one per run before
    assert f"predicted {len(squeezed)} characters, gold {len(TEXT_A)}; first difference at character {at}" in result.output


def test_prediction_lines_without_ids_are_said(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    anonymous = write(tmp_path / "anon.jsonl", [{"text": TEXT_A, "spans": []}, {"text": TEXT_B, "spans": []}])
    refused = run(runner, "-d", files["gold"], "-p", anonymous)
    assert refused.exit_code == 1 and '2 of its 2 lines have no "id"' in refused.output
    half = write(tmp_path / "half.jsonl", [GOOD[0], {k: v for k, v in GOOD[1].items() if k != "id"}])
    result = run(runner, "-d", files["gold"], "-p", half)
    assert result.exit_code == 0, result.output
    assert "half, as read: id missing file stem and line used: 1" in result.output
    assert "missing predictions: 1; unknown predictions: 1" in result.output


def test_repairs_of_the_readers_are_noted_under_the_tables(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    cut = span(TEXT_A, "Rebels", "attacker") | {"end": 3}  # "Reb": widened to the word "Rebels"
    twice = span(TEXT_B, "Gunmen", "attacker")
    rows = [{"id": "a", "text": TEXT_A, "spans": [cut]}, {"id": "b", "text": TEXT_B, "spans": [twice, twice]}]
    repaired = write(tmp_path / "repaired.jsonl", rows)
    result = run(runner, "-d", files["gold"], "-p", repaired)
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if "repaired, as read:" in line)
    assert "snapped" in note and "duplicate" in note  # both were repaired without a word in the tables
    gold_lines = [line for line in result.output.splitlines() if "gold " in line and "as read" in line]
    assert gold_lines == []  # the gold file needed no repair, so no note


def test_ceaf_and_errors_skip_roles_the_system_does_not_output(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    gold = [dict(GOLD[0], meta={"entities": {"attacker": [["rebels", "the rebels"]], "time": [["sunday"]]}})]
    gold_file = write(tmp_path / "gold_roles.jsonl", gold)
    system = [{"id": "a", "text": TEXT_A, "roles": ["attacker", "target", "location"], "spans": [span(TEXT_A, "Rebels", "attacker")]}]
    pred = write(tmp_path / "no_time.jsonl", system)
    out, errors = tmp_path / "r.json", tmp_path / "e.jsonl"
    result = run(runner, "-d", gold_file, "-p", pred, "--json", out, "--errors", errors)
    assert result.exit_code == 0, result.output
    assert "not scored, the system does not output them: time" in result.output
    scores = json.loads(out.read_text())["corpora"][str(gold_file)]["systems"]["no_time"]
    assert "time" not in scores["ceaf"]["scores"] and scores["ceaf"]["scores"]["micro"]["recall"] == 1.0
    rows = [json.loads(line) for line in errors.read_text().splitlines()]
    assert rows and all(r["role"] != "time" for r in rows)  # "Sunday" was listed as a miss


@needs_shared
def test_muc4_gold_as_predictions_beside_grit(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    registry = pytest.importorskip("eventroles.data.registry")
    from eventroles.data.readers.jsonl import write_jsonl

    try:
        docs, _ = registry.load_corpus("muc4:test", root=SHARED)
    except Exception as error:  # reader still being written: skip, do not fail this file
        pytest.skip(f"cannot load muc4:test yet: {error}")
    predictions = tmp_path / "gold_as_pred.jsonl"  # temporary copy, never in the repository
    with predictions.open("w", encoding="utf-8") as handle:
        write_jsonl(docs, handle)
    monkeypatch.setenv("EVENTROLES_DATA", str(SHARED))
    out = tmp_path / "muc4.json"
    result = run(runner, "-d", "muc4:test", "-p", predictions, "--json", out)
    assert result.exit_code == 0, result.output
    assert "GRIT, published" in result.output and "54.50" in result.output
    scores = json.loads(out.read_text())["corpora"]["muc4:test"]["systems"]["gold_as_pred"]
    assert scores["seqeval"]["micro"]["f1"] == 1.0
    assert scores["ceaf"]["scores"]["micro"]["recall"] >= 0.995


def test_evaluates_a_model_folder_and_agrees_with_its_predictions(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    """`evaluate MODEL` scores what the model predicts: the same numbers as scoring the file that
    `predict` writes for the same documents."""
    gold = Path(__file__).resolve().parent / "fixtures" / "smoke" / "dev.jsonl"
    direct = tmp_path / "direct.json"
    result = runner.invoke(app, ["evaluate", str(smoke_model), "--data", str(gold), "--json", str(direct)])
    assert result.exit_code == 0, result.output
    predictions = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["predict", str(smoke_model), str(gold), "-o", str(predictions), "--no-progress"])
    assert result.exit_code == 0, result.output
    via_file = tmp_path / "via_file.json"
    result = runner.invoke(app, ["evaluate", "--predictions", str(predictions), "--data", str(gold), "--json", str(via_file)])
    assert result.exit_code == 0, result.output

    def micro(path: Path) -> dict:
        report = json.loads(path.read_text())
        system = next(iter(report["corpora"].values()))["systems"]
        return next(iter(system.values()))["seqeval"]["micro"]

    a, b = micro(direct), micro(via_file)
    assert a["support"] == b["support"] > 0
    assert a["predicted"] == b["predicted"] > 0, "the smoke model labels something"
    assert a["f1"] == pytest.approx(b["f1"])


def test_outputs_that_would_replace_an_input_are_refused_before_scoring(runner: CliRunner, files: dict[str, Path]) -> None:
    before = files["good"].read_bytes()
    result = run(runner, "-p", files["good"], "--data", files["gold"], "--json", files["good"])
    assert result.exit_code == 1 and "--json" in result.output and "is a file this run reads (--predictions)" in result.output
    assert files["good"].read_bytes() == before  # the system's predictions were replaced by the report
    result = run(runner, "-p", files["good"], "--data", files["gold"], "--errors", files["gold"])
    assert result.exit_code == 1 and "is a file this run reads (--data" in result.output
    folder = files["gold"].parent / "mine"
    folder.mkdir()
    (folder / "test.jsonl").write_bytes(files["gold"].read_bytes())
    result = run(runner, "-p", files["good"], "--data", f"{folder}:test", "--json", folder / "test.jsonl")
    assert result.exit_code == 1 and "is a file this run reads (--data" in result.output  # a corpus folder's split too
    result = run(runner, "-p", files["good"], "--data", files["gold"], "--json", files["gold"].parent)
    assert result.exit_code == 1 and "is a folder; give a file name" in result.output


def test_a_writable_file_or_device_is_a_valid_output_whatever_its_folder_allows(
    runner: CliRunner, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.cli import _util

    report = tmp_path / "ro" / "report.json"
    report.parent.mkdir()
    report.write_text("{}", encoding="utf-8")
    real_access = os.access
    monkeypatch.setattr(_util.os, "access", lambda p, mode: False if Path(p) == report.parent else real_access(p, mode))
    result = run(runner, "-p", files["good"], "--data", files["gold"], "--json", report)  # folder read-only, file writable
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text(encoding="utf-8"))["corpora"]
    assert run(runner, "-p", files["good"], "--data", files["gold"], "--json", "/dev/null").exit_code == 0


def test_seeds_of_different_systems_errors_to_stdout_and_a_bom_alone(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    narrow = write(tmp_path / "narrow.jsonl", [{**row, "roles": ["attacker"], "spans": [sp for sp in row["spans"] if sp["role"] == "attacker"]}
                                               for row in GOOD])  # a system that tags attackers only
    result = run(runner, "-p", files["good"], "-p", narrow, "--data", files["gold"], "--seeds")
    assert result.exit_code == 1 and "Traceback" not in result.output  # was a ValueError from deep inside
    assert "the runs do not score the same things" in result.output
    result = run(runner, "-p", files["good"], "--data", files["gold"], "--errors", "-")
    assert result.exit_code == 0 and not (Path.cwd() / "-").exists()  # wrote a file named "-"
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all("corpus" in row for row in rows) and "wrote" in result.stderr
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf\n")  # what an editor saves as an empty UTF-8 file with BOM
    assert run(runner, "-p", bom, "--data", files["gold"]).exit_code == 0


def test_seeds_need_two_runs_on_every_corpus(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> None:
    other = write(tmp_path / "other_gold.jsonl", [{**row, "id": row["id"] + "2"} for row in GOLD])
    other_pred = write(tmp_path / "other_pred.jsonl", [{**row, "id": row["id"] + "2"} for row in GOOD])
    result = run(runner, "-p", files["good"], "-p", other_pred, "--data", files["gold"], "--data", other, "--seeds")
    assert result.exit_code == 1 and "--seeds: only" in result.output  # each corpus had one run: "± 0.00 (1 runs)"
