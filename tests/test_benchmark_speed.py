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
