"""``eventroles benchmark speed`` on the smoke model: every path timed, spans compared, numbers sane."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.data.words import split_words

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "tests" / "fixtures" / "smoke" / "test.jsonl"


def test_every_path_is_timed_on_the_same_words(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    args = ["benchmark", "speed", str(smoke_model), "--input", str(ARTICLES), "--limit", "3", "--warmup", "1",
            "--threads", "1", "--in-process", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    texts = [json.loads(line)["text"] for line in ARTICLES.read_text(encoding="utf-8").splitlines()][:3]
    assert report["data"]["articles"] == 3
    assert report["data"]["words"] == sum(len(split_words(t)) for t in texts)  # words/s counts these words
    assert sorted(report["paths"]) == ["baseline", "fp32", "int8", "project"]
    for key in ("project", "fp32", "int8", "baseline"):
        assert report[f"{key}_words_per_s"] > 0
    assert report["ratio"] == report["project_words_per_s"] / report["baseline_words_per_s"]
    assert 0.0 <= report["span_agreement"] <= 1.0 and 0.0 <= report["int8_span_agreement"] <= 1.0
    meta = json.loads((smoke_model / "eventroles.json").read_text())
    assert report["model"]["n_outputs"] == 1 + 2 * len(meta["tagset"]["tags"])  # O, then B and I per tag
    assert "words/s" in result.output and "baseline" in result.output


def test_input_without_text_is_one_clear_error(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n', encoding="utf-8")
    result = runner.invoke(app, ["benchmark", "speed", str(smoke_model), "--input", str(bad), "--in-process"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert str(bad) in result.output


def test_json_to_standard_output_is_json_only_and_empty_articles_are_counted(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    articles = tmp_path / "articles.jsonl"
    first = ARTICLES.read_text(encoding="utf-8").splitlines()[0]
    articles.write_text(first + '\n{"text": "   "}\n' + first + "\n", encoding="utf-8")
    result = runner.invoke(app, ["benchmark", "speed", str(smoke_model), "--input", str(articles), "--warmup", "1",
                                 "--threads", "1", "--skip-baseline", "--in-process", "--json", "-"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # the table went to standard error
    assert report["data"]["articles"] == 2 and report["data"]["empty_articles_skipped"] == 1
    assert "1 article(s) with empty text skipped" in result.stderr
    assert "--isolate (the default) measures each path alone" in result.stderr  # in-process memory is said to be shared


def test_inputs_and_outputs_that_cannot_work_are_named_before_any_timing(
    runner: CliRunner, smoke_model: Path, tmp_path: Path
) -> None:
    def speed(*args: str) -> str:
        result = runner.invoke(app, ["benchmark", "speed", str(smoke_model), *args, "--skip-baseline", "--in-process"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        return result.output

    assert "is a folder; give a JSON-lines file" in speed("--input", str(tmp_path))  # said "no such file"
    assert "is a folder; give a file name" in speed("--input", str(ARTICLES), "--json", str(tmp_path))  # after the run
    array = tmp_path / "array.json"
    array.write_text('[\n  {"text": "Gunmen struck."}\n]\n', encoding="utf-8")
    assert "jq -c '.[]'" in speed("--input", str(array))


def test_a_broken_model_folder_is_one_line_from_a_path_process(runner: CliRunner, smoke_model: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(smoke_model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated: the path's own process fails to load it
    result = runner.invoke(app, ["benchmark", "speed", str(broken), "--input", str(ARTICLES), "--limit", "1",
                                 "--warmup", "1", "--threads", "1", "--skip-baseline"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "model.safetensors" in result.output
