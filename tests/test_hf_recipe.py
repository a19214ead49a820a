"""The standard Hugging Face recipe baseline (issue 8): its label mapping on hand-made sentences,
and one 1-epoch run through ``eventroles benchmark recipe`` on the smoke fixtures with a tiny
random BERT, whose predictions the project's scorer must accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.data.document import Document, Span
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.data.roles import ROLES
from eventroles.train import hf_recipe
from eventroles.train.hf_recipe import (
    RecipeError,
    bio_labels,
    build_sentences,
    flat_word_spans,
    has_split,
    label_list,
    labels_to_spans,
    load_split,
    predicted_documents,
    sentence_labels,
    split_sentences,
    tokenize_and_align,
)
from eventroles.train.metrics import score_corpus

SMOKE = Path(__file__).resolve().parent / "fixtures" / "smoke"
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}

TEXT = "Gunmen from the Kafr militia shot two guards in Homs."
# words: Gunmen0 from1 the2 Kafr3 militia4 shot5 two6 guards7 in8 Homs9 .10


def span(text: str, phrase: str, role: str) -> Span:
    start = text.index(phrase)
    return Span(start, start + len(phrase), role)


# --------------------------------------------------------------------------- words -> BIO -> spans


def test_overlapping_spans_keep_the_longer_then_the_earlier_and_are_counted() -> None:
    doc = Document("d", TEXT, [
        span(TEXT, "Gunmen from the Kafr militia", "attacker"),
        span(TEXT, "Kafr", "location"),  # inside the attacker: shorter, dropped
        span(TEXT, "two guards", "target"),
        span(TEXT, "guards in", "weapon"),  # as long as "two guards", starts later: dropped
        span(TEXT, "Homs", "location"),
        span(TEXT, "shot", "time"),  # a role the label set does not have: ignored, not counted
    ])
    spans, dropped, wordless = flat_word_spans(doc, ["attacker", "target", "location", "weapon"])
    assert spans == [(0, 5, "attacker"), (6, 8, "target"), (9, 10, "location")]
    assert (dropped, wordless) == (2, 0)
    assert bio_labels(len(doc.words), spans) == [
        "B-attacker", "I-attacker", "I-attacker", "I-attacker", "I-attacker",
        "O", "B-target", "I-target", "O", "B-location", "O",
    ]
    # and back: word spans, then character spans equal to the kept gold spans
    back = labels_to_spans(bio_labels(len(doc.words), spans))
    assert back == spans
    chars = [(doc.words.starts[a], doc.words.ends[b - 1], role) for a, b, role in back]
    assert [TEXT[s:e] for s, e, _ in chars] == ["Gunmen from the Kafr militia", "two guards", "Homs"]


def test_lenient_decoding_starts_a_span_at_an_inside_label() -> None:
    labels = ["I-attacker", "I-attacker", "O", "I-time", "B-time", "I-target", "I-target", "B-target"]
    assert labels_to_spans(labels) == [
        (0, 2, "attacker"),  # I- without B- starts a span
        (3, 4, "time"),
        (4, 5, "time"),  # B- after I- of the same role starts a new one
        (5, 7, "target"),  # I- of another role starts a new one
        (7, 8, "target"),
    ]
    assert labels_to_spans(["O", "O"]) == [] and labels_to_spans([]) == []


def test_label_list_follows_the_schema_order() -> None:
    assert label_list(["time", "attacker"]) == ["O", "B-attacker", "I-attacker", "B-time", "I-time"]


def test_sentences_keep_offsets_and_spans_cut_by_a_split_restart_with_b() -> None:
    text = "gen. garcia of the u.s. army said 3.5 tons fell. the fmln attacked usulutan!\n\nlater news"
    doc = Document("s", text, [span(text, "tons fell. the fmln", "attacker"), span(text, "usulutan", "location")])
    sentences = split_sentences(text, doc.words)
    pieces = [text[doc.words.starts[a] : doc.words.ends[b - 1]] for a, b in sentences]
    assert pieces == ["gen. garcia of the u.s. army said 3.5 tons fell.", "the fmln attacked usulutan!", "later news"]
    built = build_sentences([doc], ["attacker", "location"])
    assert built.counts["sentences"] == 3 and built.counts["spans_cut_by_sentence_split"] == 1
    assert built.columns["words"][1][:2] == ["the", "fmln"]
    assert built.columns["tags"][1][:4] == ["B-attacker", "I-attacker", "O", "B-location"]
    assert sentence_labels(["I-time", "I-time"], 1, 2) == ["B-time"]
    assert [o[0] for o in built.origin] == [0, 0, 0]


def test_first_subword_gets_the_label_and_truncation_is_counted() -> None:
    from eventroles.models.backbone import load_tokenizer

    tokenizer = load_tokenizer("minilm")  # the tokenizer only; no network weights are loaded
    labels = label_list(["target"])
    label2id = {label: i for i, label in enumerate(labels)}
    batch = {"words": [["the", "usulutan", "guards"], ["a", "b", "c", "d", "e"]],
             "tags": [["O", "B-target", "I-target"], ["O"] * 5]}
    out = tokenize_and_align(batch, tokenizer, label2id, max_length=32)
    row, firsts = out["labels"][0], out["word_index"][0]
    pieces = len(tokenizer.tokenize("usulutan"))
    assert pieces > 1  # so that the word has subwords after its first
    assert firsts == [-1, 0, 1, *[-1] * (pieces - 1), 2, -1]  # [CLS] the usu ##lu... guards [SEP]
    assert row == [-100, label2id["O"], label2id["B-target"], *[-100] * (pieces - 1), label2id["I-target"], -100]
    assert out["truncated_words"] == [0, 0]
    cut = tokenize_and_align(batch, tokenizer, label2id, max_length=5)
    assert cut["word_index"][1] == [-1, 0, 1, 2, -1]  # [CLS] a b c [SEP]
    assert cut["truncated_words"][1] == 2  # d and e get no label (and no prediction)


def test_predictions_map_back_to_character_spans() -> None:
    doc = Document("p", TEXT)
    built = build_sentences([doc], None)
    labels = label_list(["attacker", "location"])
    id2label = dict(enumerate(labels))
    n_words = len(doc.words)
    # token positions: 0 = [CLS]; word i at position i + 1; word 9 ("Homs") has no first subword
    word_index = [[-1, *range(9), -1, 10, -1]]
    probabilities = np.zeros((1, len(word_index[0]), len(labels)))
    probabilities[0, :, 0] = 1.0
    probabilities[0, 1] = [0.1, 0.1, 0.8, 0, 0]  # word 0: I-attacker with no B- before it
    probabilities[0, 2] = [0.4, 0.0, 0.6, 0, 0]  # word 1: I-attacker
    docs, unlabelled = predicted_documents([doc], built, word_index, probabilities, id2label, ["attacker", "location"])
    predicted, scores = docs[0]
    assert unlabelled == 1 and n_words == 11
    assert [(TEXT[s.start : s.end], s.role) for s in predicted.spans] == [("Gunmen from", "attacker")]
    assert scores[(0, len("Gunmen from"), "attacker")] == pytest.approx(0.7)
    assert predicted.roles == frozenset({"attacker", "location"}) and predicted.text == TEXT


def test_corpus_errors_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="no test.jsonl"):
        load_split(str(tmp_path), "test")
    with pytest.raises(RecipeError, match="without a split"):
        load_split("muc4:test", "train")
    with pytest.raises(RecipeError, match="unknown corpus 'nonesuch'"):
        load_split("nonesuch", "train")
    assert has_split("nonesuch", "train") is False and has_split(str(tmp_path), "test") is False


# --------------------------------------------------------------------------- one real (tiny) run


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory: pytest.TempPathFactory, runner: CliRunner) -> Iterator[dict[str, Any]]:
    """``eventroles benchmark recipe`` on the smoke folder, 1 epoch, a tiny random BERT."""
    folder = tmp_path_factory.mktemp("recipe")
    predictions, summary, work = folder / "pred.jsonl", folder / "run.json", folder / "work"
    original = hf_recipe.run_recipe

    def tiny(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return original(*args, **kwargs, random_backbone=TINY)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hf_recipe, "run_recipe", tiny)
        result = runner.invoke(app, [
            "benchmark", "recipe", str(SMOKE), "-o", str(predictions), "--epochs", "1", "--seed", "3",
            "--batch-size", "16", "--max-length", "32", "--work-dir", str(work), "--json", str(summary),
            "--learning-rate", "2e-5", "--weight-decay", "0.01",  # the course's settings
        ])
    assert result.exit_code == 0, result.output
    yield {"output": result.output, "stderr": result.stderr, "predictions": predictions, "summary": json.loads(summary.read_text()), "work": work}


def test_predictions_file_has_one_line_per_test_document(recipe_run: dict[str, Any]) -> None:
    gold = read_jsonl_file(SMOKE / "test.jsonl")
    lines = [json.loads(line) for line in recipe_run["predictions"].read_text(encoding="utf-8").splitlines()]
    assert [(d["id"], d["text"]) for d in lines] == [(d.id, d.text) for d in gold]
    spans = [s for d in lines for s in d["spans"]]
    assert spans, "a 1-epoch random model still labels something (else the checks below are empty)"
    for doc in lines:
        for s in doc["spans"]:
            assert 0 <= s["start"] < s["end"] <= len(doc["text"])
            assert doc["text"][s["start"] : s["end"]] == s["text"]
            assert s["role"] in ROLES and 0.0 <= s["score"] <= 1.0


def test_predictions_are_scored_by_the_project_scorer(recipe_run: dict[str, Any], runner: CliRunner) -> None:
    gold = read_jsonl_file(SMOKE / "test.jsonl")
    predicted = read_jsonl_file(recipe_run["predictions"])  # validates offsets, texts and roles
    scores = score_corpus(gold, predicted)
    assert scores["documents"] == len(gold) and scores["missing_predictions"] == 0
    assert scores["unknown_predictions"] == 0
    assert 0.0 <= scores["seqeval"]["micro"]["f1"] <= 1.0
    assert scores["exact"]["micro"]["predicted"] == sum(len(d.spans) for d in predicted)

    result = runner.invoke(app, [
        "evaluate", "--predictions", str(recipe_run["predictions"]), "--data", str(SMOKE / "test.jsonl"),
        "--json", "-", "--no-ceaf",
    ])
    assert result.exit_code == 0, result.output
    assert '"missing_predictions": 0' in result.output


def test_run_summary_reports_settings_counts_and_epochs(recipe_run: dict[str, Any]) -> None:
    summary = recipe_run["summary"]
    assert summary["recipe"]["labels"] == label_list(ROLES)
    assert summary["recipe"]["lr_scheduler"] == "linear" and summary["recipe"]["warmup_steps"] == 0
    assert summary["recipe"]["seed"] == 3 and summary["recipe"]["max_length"] == 32
    assert summary["recipe"]["learning_rate"] == 2e-5 and summary["recipe"]["weight_decay"] == 0.01
    train, test = summary["counts"]["train"], summary["counts"]["test"]
    assert train["documents"] == 24 and train["sentences"] >= 24 and train["spans_dropped_overlap"] == 0
    assert summary["counts"]["optimizer_steps"] == -(-train["sentences"] // 16)
    assert test["documents"] == 8
    assert any("eval_f1" in entry for entry in summary["history"])  # seqeval on dev after the epoch
    assert set(summary["timings_s"]) == {"load_s", "tokenize_s", "train_s", "predict_s"}
    assert (recipe_run["work"] / "recipe.json").is_file()
    assert "eventroles evaluate --predictions" in recipe_run["output"]


def test_training_shows_one_progress_bar_over_the_optimizer_steps(recipe_run: dict[str, Any]) -> None:
    steps = recipe_run["summary"]["counts"]["optimizer_steps"]
    bars = [line for line in recipe_run["stderr"].replace("\r", "\n").splitlines() if line.startswith("recipe:")]
    assert bars and f"{steps}/{steps}" in bars[-1], recipe_run["stderr"]
    assert "{'loss'" not in recipe_run["stderr"]  # the Trainer's own bar (which prints its log dicts) stays off
    epochs = [line for line in recipe_run["stderr"].split("\n") if "epoch 1.0:" in line]
    assert epochs and all(line.split("\r")[-1].startswith("epoch 1.0:") for line in epochs)  # not glued to the bar


def test_dev_evaluation_and_test_prediction_show_their_batches(recipe_run: dict[str, Any]) -> None:
    lines = recipe_run["stderr"].replace("\r", "\n").splitlines()
    dev = [line for line in lines if line.startswith("recipe:") and "dev " in line]
    assert dev and dev[-1].split("dev ")[1].startswith("1/1 batches"), recipe_run["stderr"]  # the smoke dev sentences fit one batch of 16
    test = [line for line in lines if line.startswith("recipe test:")]
    assert test, recipe_run["stderr"]
    done, total = test[-1].split("|")[2].split()[0].split("/")
    assert done == total and int(total) >= 1


def test_roles_option_trains_only_those_roles_and_names_missing_ones(tmp_path: Path) -> None:
    run = dict(epochs=0.01, max_length=32, batch_size=16, eval_split=None, random_backbone=TINY, progress=False)
    result = hf_recipe.run_recipe(str(SMOKE), tmp_path / "p.jsonl", roles=["attacker", "time"], **run)
    assert result["recipe"]["labels"] == ["O", "B-attacker", "I-attacker", "B-time", "I-time"]
    predicted = read_jsonl_file(tmp_path / "p.jsonl")
    assert {s.role for d in predicted for s in d.spans} <= {"attacker", "time"}
    with pytest.raises(RecipeError, match="does not annotate colour"):
        hf_recipe.run_recipe(str(SMOKE), tmp_path / "q.jsonl", roles=["colour"], **run)


def test_outputs_that_would_destroy_or_collide_are_refused_before_training(tmp_path: Path, runner: CliRunner) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(SMOKE, corpus)
    gold = (corpus / "test.jsonl").read_bytes()
    (tmp_path / "notes.txt").write_text("x")
    cases = [
        (["-o", str(corpus / "test.jsonl")], "is a file of the corpus"),  # replaced the gold, then scored 100
        (["-o", str(tmp_path / "same.json"), "--json", str(tmp_path / "same.json")], "name the same file"),
        (["-o", str(tmp_path)], "is a folder; give a file name"),  # said so after training
        (["-o", str(tmp_path / "notes.txt" / "p.jsonl")], "notes.txt is a file, not a folder"),
        (["-o", str(tmp_path / "p.jsonl"), "--roles", ","], "names no role"),
    ]
    original = hf_recipe.run_recipe
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hf_recipe, "run_recipe", lambda *a, **k: original(*a, **k, random_backbone=TINY))
        for args, message in cases:
            result = runner.invoke(app, ["benchmark", "recipe", str(corpus), *args, "--epochs", "1", "--max-length", "32"])
            assert result.exit_code == 1, (args, result.output)
            assert message in result.output and "train:" not in result.output
    assert (corpus / "test.jsonl").read_bytes() == gold
    with pytest.raises(RecipeError, match="--max-length 600: the backbone has 512 positions"):
        hf_recipe.run_recipe(str(SMOKE), tmp_path / "p.jsonl", max_length=600, epochs=0.01, random_backbone=TINY,
                             eval_split=None, progress=False)
