"""Training mechanics on the tiny random-weight smoke config: resume, partial annotation, seeds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from eventroles.train.config import ConfigError, load_config
from eventroles.train.trainer import TrainingInterrupted, train

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
QUIET = {"progress": False, "log": lambda message: None}


def smoke_config(out: Path, *overrides: str):
    return load_config(SMOKE, [f"output.dir={out}", *overrides])


def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path: Path) -> None:
    full = train(smoke_config(tmp_path / "full"), **QUIET)

    config = smoke_config(tmp_path / "resumed")
    with pytest.raises(TrainingInterrupted):
        train(config, stop_after_steps=20, **QUIET)  # dies 5 steps after the checkpoint at 15
    assert not (tmp_path / "resumed").exists(), "a crashed run must not leave a model folder"
    resumed = train(config, resume=True, **QUIET)

    assert resumed.state.history == full.state.history
    assert resumed.best_dev["score"] == pytest.approx(full.best_dev["score"])
    a = load_file(str(full.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert (a[name] - b[name]).abs().max().item() < 1e-6, name


def test_an_interrupted_checkpoint_is_kept_and_resumed_only_by_its_own_config(tmp_path: Path) -> None:
    from eventroles.train.checkpoints import find_checkpoint
    from eventroles.train.config import ConfigError

    config = smoke_config(tmp_path / "model")
    with pytest.raises(TrainingInterrupted):
        train(config, stop_after_steps=20, **QUIET)
    run_dir = config.output.resolved_run_dir()
    with pytest.raises(ConfigError, match="continue it with --resume"):  # was deleted by the fresh run
        train(config, **QUIET)
    assert find_checkpoint(run_dir) is not None
    changed = smoke_config(tmp_path / "model", "training.learning_rate=0.01", "training.batch_size=4")
    with pytest.raises(ConfigError) as refused:  # would have mixed two runs without a word
        train(changed, resume=True, **QUIET)
    assert "training.learning_rate: 0.003 when started, now 0.01" in str(refused.value)
    assert "training.batch_size: 8 when started, now 4" in str(refused.value)
    harmless = smoke_config(tmp_path / "model", "training.threads=2")
    result = train(harmless, resume=True, **QUIET)
    assert result.model_dir.is_dir() and find_checkpoint(run_dir) is None  # a finished run leaves none behind
    again = train(config, **QUIET)  # so the next fresh run into the same folder just trains
    assert again.state.step == result.state.step


def test_ctrl_c_saves_a_checkpoint_that_resumes_to_the_same_model(tmp_path: Path) -> None:
    import os
    import signal

    from eventroles.train.trainer import TrainingStopped

    full = train(smoke_config(tmp_path / "full"), **QUIET)
    config = smoke_config(tmp_path / "stopped")

    def log(message: str) -> None:  # Ctrl-C while the first evaluation is being reported
        if message.startswith("step 15:"):
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingStopped, match=r"SIGINT at step 15 of \d+: checkpoint saved .* --resume"):
        train(config, progress=False, log=log)
    assert not (tmp_path / "stopped").exists()
    resumed = train(config, resume=True, **QUIET)
    assert resumed.state.history == full.state.history
    a = load_file(str(full.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert all((a[k] - b[k]).abs().max().item() < 1e-6 for k in a)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_same_seed_gives_same_model_and_other_seed_does_not(tmp_path: Path) -> None:
    short = ["training.epochs=3", "training.checkpoint_every=null"]
    first = train(smoke_config(tmp_path / "a", *short), **QUIET)
    second = train(smoke_config(tmp_path / "b", *short), **QUIET)
    third = train(smoke_config(tmp_path / "c", *short, "training.seed=8"), **QUIET)
    wa, wb, wc = (load_file(str(r.model_dir / "model.safetensors")) for r in (first, second, third))
    assert all((wa[k] == wb[k]).all() for k in wa)
    assert any((wa[k] != wc[k]).any() for k in wa)


def test_model_folder_records_config_corpora_and_dev_metrics(tmp_path: Path) -> None:
    result = train(smoke_config(tmp_path / "m", "training.epochs=2"), **QUIET)
    meta = json.loads((result.model_dir / "eventroles.json").read_text())
    assert meta["tagset"]["roles"] == ["attacker", "target", "location", "time", "weapon"]
    assert meta["config"]["training"]["epochs"] == 2
    assert meta["corpora"][0]["train_documents"] == 24
    assert "seqeval" in meta["dev_metrics"]["corpora"]["smoke"]
    assert meta["eventroles_version"]
    assert not list(tmp_path.glob(".m.*")), "no staging folder may be left behind"


def _claims_time(folder: Path, out: Path) -> Path:
    """A copy of a corpus that (wrongly) says it annotates time, so its time words become 'O'."""
    out.mkdir()
    for split in ("train", "dev", "test"):
        lines = []
        for line in (folder / f"{split}.jsonl").read_text().splitlines():
            doc = json.loads(line)
            doc["roles"] = sorted(set(doc["roles"]) | {"time"})
            lines.append(json.dumps(doc))
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return out


def test_corpus_without_time_annotation_does_not_unteach_time(tmp_path: Path) -> None:
    """24 documents with time spans + 72 that do not annotate time: time is still predicted.
    The control, where the 72 documents claim to annotate time, learns that time is absent."""

    def run(second: Path, name: str) -> dict:
        corpora = f"data.corpora=[{{path: {FIXTURES / 'smoke'}}}, {{path: {second}, dev: []}}]"
        config = smoke_config(tmp_path / name, corpora, "training.epochs=12", "training.checkpoint_every=null",
                              "training.eval_every=null")
        return train(config, **QUIET).best_dev["corpora"]["smoke"]["seqeval"]["time"]

    partial = run(FIXTURES / "smoke_notime", "partial")
    control = run(_claims_time(FIXTURES / "smoke_notime", tmp_path / "claims_time"), "control")
    assert partial["recall"] >= 0.5
    assert partial["recall"] > control["recall"] + 0.3


def _window(source: int, has_span: bool, length: int = 6, doc: str = "d", variant: int = 0):
    import numpy as np

    from eventroles.data.features import Window

    labels = np.zeros((length, 2), dtype=np.int64)
    if has_span:
        labels[2, 1] = 1
    return Window(np.ones(length, dtype=np.int64), np.zeros(length, dtype=np.int64), labels, source, doc, variant)


def test_span_offset_is_calibrated_on_dev_and_saved(tmp_path: Path) -> None:
    from eventroles.models.inference import Tagger
    from eventroles.train.calibration import OFFSET_GRID

    result = train(smoke_config(tmp_path / "m", "training.epochs=4", "training.calibrate_offset=true"), **QUIET)
    meta = json.loads((result.model_dir / "eventroles.json").read_text())
    calibration = meta["calibration"]
    grid = calibration["grid"]
    assert [row["offset"] for row in grid] == list(OFFSET_GRID)
    best = max(row["score"] for row in grid)
    assert calibration["dev_score"] == pytest.approx(best)
    assert meta["span_logit_offset"] == calibration["span_logit_offset"]
    assert next(r for r in grid if r["offset"] == calibration["span_logit_offset"])["score"] == pytest.approx(best)
    assert Tagger.load(result.model_dir, device="cpu").span_logit_offset == calibration["span_logit_offset"]

    fixed = train(smoke_config(tmp_path / "f", "training.epochs=4", "training.calibrate_offset=false"), **QUIET)
    meta = json.loads((fixed.model_dir / "eventroles.json").read_text())
    assert meta["calibration"] is None and meta["span_logit_offset"] == 0.0


def test_ceaf_selection_needs_gold_entities(tmp_path: Path) -> None:
    from eventroles.train.calibration import CalibrationError

    with pytest.raises(CalibrationError, match="needs dev documents with gold entities.*smoke has none"):
        train(smoke_config(tmp_path / "m", "training.epochs=1", "training.selection_metric=ceaf"), **QUIET)
    assert not (tmp_path / "m.run").exists(), "the error comes before any training step"


def test_negative_windows_share_draws_empty_windows_afresh_each_epoch() -> None:
    from eventroles.train.trainer import epoch_batches

    windows = [_window(0, i < 10) for i in range(50)] + [_window(1, False) for _ in range(20)]
    drawn = [sorted(i for batch in epoch_batches(windows, [1.0, 1.0], 4, 13, epoch, [0.25, 1.0]) for i in batch)
             for epoch in range(2)]
    for indices in drawn:
        assert set(range(10)) <= set(indices), "every window with a span is drawn"
        assert sum(1 for i in indices if 10 <= i < 50) == 10, "25% of corpus 0's 40 empty windows"
        assert set(range(50, 70)) <= set(indices), "corpus 1 keeps all its windows"
        assert len(indices) == len(set(indices))
    assert drawn[0] != drawn[1], "another epoch draws other empty windows"
    assert drawn[0] == sorted(i for b in epoch_batches(windows, [1.0, 1.0], 4, 13, 0, [0.25, 1.0]) for i in b)


def test_an_epoch_reads_a_document_with_a_substituted_copy_as_one_of_the_two() -> None:
    from eventroles.train.trainer import epoch_batches

    # d0..d9 have a substituted copy (two windows each, like their documents); d10..d19 have none
    windows = [_window(0, True, doc=f"d{i}") for i in range(20) for _ in range(2)]
    windows += [_window(0, True, doc=f"d{i}", variant=1) for i in range(10) for _ in range(2)]

    def read(share: float, epoch: int) -> list[tuple[str, int]]:
        drawn = [windows[i] for batch in epoch_batches(windows, [1.0], 4, 13, epoch, None, share) for i in batch]
        return sorted((w.doc, w.variant) for w in drawn)

    assert read(0.0, 0) == sorted((f"d{i}", 0) for i in range(20) for _ in range(2)), "off: only the documents"
    assert read(1.0, 0) == sorted([(f"d{i}", 1) for i in range(10) for _ in range(2)]
                                  + [(f"d{i}", 0) for i in range(10, 20) for _ in range(2)])
    epochs = [read(0.5, epoch) for epoch in range(3)]
    for drawn in epochs:
        assert len(drawn) == 40, "each document once, as itself or as its copy, both windows together"
        assert {doc for doc, variant in drawn if variant == 1} & {doc for doc, variant in drawn if variant == 0} == set()
        assert 0 < sum(variant for _, variant in drawn) < 20
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2], "a fresh draw each epoch"
    assert read(0.5, 1) == epochs[1], "the same draw for the same epoch (a resumed run)"


def test_training_with_name_substitution_says_what_it_replaced(tmp_path: Path) -> None:
    lines: list[str] = []
    result = train(smoke_config(tmp_path / "m", "training.epochs=2", "training.name_substitution=0.5"),
                   progress=False, log=lines.append)
    plain = train(smoke_config(tmp_path / "p", "training.epochs=2"), **QUIET)
    said = next(line for line in lines if "name-substituted copy" in line)
    assert "of 24 training documents" in said and "probability 0.5" in said
    assert any("24 windows from 24 documents (and" in line for line in lines)
    assert result.state.step == plain.state.step, "a copy is read in place of its document: epochs keep their length"


def test_span_weight_pulls_rare_spans_up() -> None:
    import torch

    from eventroles.models.network import tagging_loss

    logits = torch.zeros(1, 4, 1, 3)
    logits[..., 0] = 3.0  # confident "O" everywhere
    labels = torch.tensor([[[0], [1], [0], [0]]])
    plain, weighted = tagging_loss(logits, labels), tagging_loss(logits, labels, span_weight=5.0)
    assert weighted > plain  # the missed B counts 5 times
    # the weighted mean: (5 * loss_B + 3 * loss_O) / (5 + 3)
    cells = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), labels.reshape(-1), reduction="none")
    assert weighted.item() == pytest.approx(((5 * cells[1] + cells[0] + cells[2] + cells[3]) / 8).item())


@pytest.mark.parametrize(
    ("where", "key"),
    [("model.run", "output.run_dir"), ("model", "output.dir"), ("model/notes.txt", "output.dir")],
    ids=["file-as-run-folder", "file-as-model-folder", "user-folder-as-model-folder"],
)
def test_an_output_that_saving_would_destroy_is_one_clear_error(tmp_path: Path, runner, where: str, key: str) -> None:
    from eventroles.cli import app

    kept = tmp_path / where
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("the user's own file\n")
    result = runner.invoke(app, ["train", str(SMOKE), "--set", f"output.dir={tmp_path / 'model'}", "--no-progress"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert key in result.output and str(tmp_path / where.split("/")[0]) in result.output
    assert kept.read_text() == "the user's own file\n"  # nothing of the user's is touched


def test_a_previous_model_folder_or_an_empty_one_is_trained_into(tmp_path: Path) -> None:
    output = tmp_path / "model"
    output.mkdir()
    quiet = {"progress": False, "log": lambda message: None}
    first = train(load_config(SMOKE, [f"output.dir={output}"]), **quiet)
    again = train(load_config(SMOKE, [f"output.dir={output}", "training.seed=5"]), **quiet)
    assert Path(first.model_dir) == Path(again.model_dir) == output and (output / "model.safetensors").is_file()
    # a file of the user's put into the model folder (`predict -o model/labelled.jsonl`) is not deleted by a retraining
    (output / "labelled.jsonl").write_text("the user's output\n")
    with pytest.raises(ConfigError, match="also holds labelled.jsonl"):
        train(load_config(SMOKE, [f"output.dir={output}"]), **quiet)
    assert (output / "labelled.jsonl").read_text() == "the user's output\n"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.precision=fp16", "training.precision fp16 needs a GPU"),
        ("training.device=cuda", "training.device cuda: this machine has"),
    ],
)
def test_a_device_or_precision_this_machine_lacks_is_one_clear_error(tmp_path: Path, runner, override: str, message: str) -> None:
    from eventroles.cli import app

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: fp16 and cuda are valid here")
    result = runner.invoke(app, ["train", str(SMOKE), "--set", f"output.dir={tmp_path / 'model'}", "--set", override, "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {message}" in result.output and not (tmp_path / "model").exists()


def test_training_texts_that_give_no_windows_are_one_clear_error(tmp_path: Path, runner) -> None:
    from eventroles.cli import app

    corpus = tmp_path / "mine"
    corpus.mkdir()
    for split in ("train", "dev"):
        (corpus / f"{split}.jsonl").write_text('{"id": "a", "text": "", "spans": []}\n', encoding="utf-8")
    config = tmp_path / "mine.yaml"
    config.write_text(SMOKE.read_text().replace("../tests/fixtures/smoke", str(corpus)), encoding="utf-8")
    result = runner.invoke(app, ["train", str(config), "--set", f"output.dir={tmp_path / 'model'}", "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: nothing to train on" in result.output and "1 training documents, 0 with text" in result.output


@pytest.mark.parametrize("kind", ["missing", "file", "no-dev"])
def test_a_corpus_path_that_is_not_a_corpus_folder_is_named(tmp_path: Path, runner, kind: str) -> None:
    from eventroles.cli import app

    corpus = tmp_path / "mine"
    if kind == "file":
        corpus.write_text("{}\n")
    elif kind == "no-dev":
        corpus.mkdir()
        shutil.copy(FIXTURES / "smoke" / "train.jsonl", corpus / "train.jsonl")
    config = tmp_path / "mine.yaml"
    config.write_text(SMOKE.read_text().replace("../tests/fixtures/smoke", str(corpus)), encoding="utf-8")
    result = runner.invoke(app, ["train", str(config), "--set", f"output.dir={tmp_path / 'model'}", "--no-progress"])
    assert result.exit_code == 1 and f"data.corpora path {corpus}: " in result.output
    expected = {"missing": "no such folder", "file": "a file, not a folder", "no-dev": "the folder has no dev.jsonl"}
    assert expected[kind] in result.output


def test_early_stopping_stops_and_says_how_many_steps_ran(tmp_path: Path) -> None:
    # a vanishing learning rate never improves on the first evaluation: stop after one more
    config = smoke_config(tmp_path / "model", "training.learning_rate=1e-12", "training.head_learning_rate=1e-12",
                          "training.early_stopping=1", "training.checkpoint_every=null")
    result = train(config, **QUIET)
    assert [h["step"] for h in result.state.history] == [15, 30]
    assert result.stats["steps"] == result.state.step == 30  # was the planned total (hundreds)
    assert result.state.stopped_early


def test_a_training_document_with_a_held_out_text_is_reported(tmp_path: Path) -> None:
    from eventroles.train.corpora import LEAK_KIND, load_corpora

    corpus = tmp_path / "mine"
    shutil.copytree(FIXTURES / "smoke", corpus)
    test_line = (corpus / "test.jsonl").read_text(encoding="utf-8").splitlines()[0]
    leaked = json.loads(test_line)
    copy = {"id": "copied", "text": "  " + leaked["text"].replace(" ", "\n", 1), "spans": []}  # whitespace aside
    with (corpus / "train.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(copy) + "\n")
    config = load_config(SMOKE, [f"output.dir={tmp_path / 'model'}", f"data.corpora.0.path={corpus}"])
    [loaded] = load_corpora(config)
    assert loaded.report.counts[LEAK_KIND] == 1
    assert loaded.report.examples[LEAK_KIND] == [f"train copied = test {leaked['id']}"]
    assert "copied" in {d.id for d in loaded.train}  # kept: counted, not dropped
    lines: list[str] = []
    train(config, progress=False, log=lines.append)
    assert any(line.startswith("warning: ") and "1 training document(s) have the text of a held-out" in line for line in lines)


def test_other_jsonl_files_in_a_corpus_folder_are_not_read_as_held_out_splits(tmp_path: Path) -> None:
    from eventroles.train.corpora import LEAK_KIND, load_corpora

    corpus = tmp_path / "mine"
    shutil.copytree(FIXTURES / "smoke", corpus)
    train_lines = (corpus / "train.jsonl").read_text(encoding="utf-8")
    (corpus / "all_articles.jsonl").write_text(train_lines, encoding="utf-8")  # the unsplit corpus
    (corpus / "raw_unlabelled.jsonl").write_text(json.dumps({"id": "r1", "text": "No spans here."}) + "\n")
    config = load_config(SMOKE, [f"output.dir={tmp_path / 'model'}", f"data.corpora.0.path={corpus}"])
    [loaded] = load_corpora(config)  # raw_unlabelled.jsonl has no "spans": reading it would fail
    assert loaded.report.counts[LEAK_KIND] == 0, "the unsplit file is not a held-out split"


def test_without_dev_documents_the_last_weights_are_kept_and_it_says_so(tmp_path: Path) -> None:
    no_dev = ["data.corpora.0.dev=[]", "training.max_steps=12", "training.checkpoint_every=null"]
    # a run with dev first: its best weights and scores stay in the run folder the next run uses
    train(smoke_config(tmp_path / "model", "training.max_steps=12", "training.checkpoint_every=null"), **QUIET)
    lines: list[str] = []
    result = train(smoke_config(tmp_path / "model", *no_dev, "training.eval_every=5", "training.early_stopping=1"),
                   progress=False, log=lines.append)
    assert any(line.startswith("warning: no dev documents") for line in lines), lines
    assert result.state.history == [] and result.state.step == 12 and not result.state.stopped_early
    assert result.best_dev == {}, "the dev scores of the earlier run in that folder are not this run's"
    meta = json.loads((result.model_dir / "eventroles.json").read_text())
    assert meta["dev_metrics"] is None and meta["training"]["best_step"] == 12
    # the weights are the last step's, whatever the evaluation interval (it kept the first evaluation's: step 5)
    last = train(smoke_config(tmp_path / "last", *no_dev, "training.eval_every=null"), **QUIET)
    a, b = (load_file(str(r.model_dir / "model.safetensors")) for r in (result, last))
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_what_the_readers_and_encoder_repaired_is_said_at_training_start(tmp_path: Path) -> None:
    corpus = tmp_path / "mine"
    shutil.copytree(FIXTURES / "smoke", corpus)
    first = json.loads((corpus / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    text = first["text"]
    words = text.split()
    end = len(words[0]) + 1 + len(words[1])
    first["spans"] = [{"start": 0, "end": end, "role": "target"}, {"start": 0, "end": len(words[0]), "role": "target"}]
    rest = (corpus / "train.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    (corpus / "train.jsonl").write_text("\n".join([json.dumps(first), *rest]) + "\n", encoding="utf-8")
    lines: list[str] = []
    config = smoke_config(tmp_path / "model", f"data.corpora.0.path={corpus}", "training.max_steps=2",
                          "training.checkpoint_every=null")
    train(config, progress=False, log=lines.append)
    said = [line for line in lines if "as read and encoded" in line]
    assert said and "overlapping span in one tag skipped: 1" in said[0], lines


def test_a_checkpoint_with_a_pickled_schedule_is_not_unpickled(tmp_path: Path) -> None:
    from eventroles.train.checkpoints import find_checkpoint
    from eventroles.train.config import ConfigError

    config = smoke_config(tmp_path / "model")
    with pytest.raises(TrainingInterrupted):
        train(config, stop_after_steps=20, **QUIET)
    checkpoint = find_checkpoint(config.output.resolved_run_dir())
    assert (checkpoint / "scheduler.json").is_file()
    assert not (checkpoint / "custom_checkpoint_0.pkl").exists(), "the schedule is JSON, not a pickle"
    (checkpoint / "custom_checkpoint_0.pkl").write_bytes(b"not to be loaded")  # as an older eventroles wrote it
    with pytest.raises(ConfigError, match="older eventroles.*pickle"):
        train(config, resume=True, **QUIET)


def test_dev_scores_cover_only_the_roles_the_model_tags(tmp_path: Path) -> None:
    # the smoke corpus annotates weapon; a model without a weapon head must not be scored on it
    config = smoke_config(tmp_path / "model", "model.roles=[attacker,target,location,time]", "training.max_steps=6",
                          "training.checkpoint_every=null")
    result = train(config, **QUIET)
    seqeval = result.best_dev["corpora"]["smoke"]["seqeval"]
    assert "weapon" not in seqeval and {"attacker", "target"} <= set(seqeval)
    assert not config.output.resolved_run_dir().exists(), "a finished run leaves no best weights behind (90 MB)"


def test_a_model_that_finds_nothing_on_dev_is_a_warning(tmp_path: Path) -> None:
    lines: list[str] = []
    config = smoke_config(tmp_path / "model", "training.learning_rate=1e-12", "training.head_learning_rate=1e-12",
                          "training.max_steps=4", "training.checkpoint_every=null", "training.calibrate_offset=false")
    result = train(config, progress=False, log=lines.append)
    assert result.best_dev["score"] == 0.0  # a random model with an untrained O-versus-span bias marks nothing
    assert any(line.startswith("warning: the model found nothing on dev") for line in lines), lines


def test_an_output_folder_under_a_file_is_refused_before_training(tmp_path: Path, runner) -> None:
    from eventroles.cli import app

    (tmp_path / "notes.txt").write_text("x")
    result = runner.invoke(app, ["train", str(SMOKE), "-o", str(tmp_path / "notes.txt" / "model"), "--no-progress"])
    assert result.exit_code == 1 and "-o " in result.output and "notes.txt is a file, not a folder" in result.output
    assert "step" not in result.output


def test_two_processes_train_to_the_end_when_a_step_has_fewer_batches_than_processes(tmp_path: Path) -> None:
    # On 2 processes the smoke config's last step of an epoch has one batch: the process without a
    # batch skipped backward and the other waited in the gradient all-reduce for ever (a GPU run
    # hangs the same way). CPU processes talk over gloo; no GPU needed.
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "eventroles.cli", "train", str(SMOKE), "-o", str(tmp_path / "model"), "--no-progress"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_coreferent_mentions_unknown_reaches_training_and_is_refused_where_no_corpus_records_them(tmp_path: Path) -> None:
    from eventroles.data.document import Document, Span
    from eventroles.train.config import CorpusConfig
    from eventroles.train.corpora import load_corpora, restrict_roles

    text = "Rebels shelled the town ; the rebels later withdrew"
    doc = Document("d", text, [Span(0, 6, "attacker", "Attacker")], frozenset({"attacker", "target"}))
    doc.meta["coreferent_mentions"] = [[26, 36, "attacker"], [15, 23, "target"]]
    unknown = CorpusConfig(name="wikievents", coreferent_mentions="unknown", role_map={"attacker": "target", "target": None})
    mapped = restrict_roles(doc, unknown)
    assert mapped.meta["unknown_spans"] == [[26, 36, "target"]]  # renamed as the spans are; a dropped role goes
    assert "unknown_spans" not in restrict_roles(mapped, CorpusConfig(name="wikievents")).meta  # the default: O
    config = load_config(SMOKE, [f"output.dir={tmp_path / 'model'}", f"data.corpora.0.path={FIXTURES / 'smoke'}",
                                 "data.corpora.0.coreferent_mentions=unknown"])
    with pytest.raises(ConfigError, match=r"data.corpora.0 \(smoke\): coreferent_mentions: unknown, but this corpus records no"):
        load_corpora(config)


def test_bf16_training_on_a_cpu_without_bf16_units_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventroles.models import precision

    monkeypatch.setattr(precision, "cpu_has_bf16_units", lambda: False)
    lines: list[str] = []
    config = smoke_config(tmp_path / "model", "training.precision=bf16", "training.max_steps=2", "training.device=cpu")
    train(config, progress=False, log=lines.append)
    assert any(line.startswith("warning: this CPU has no bf16 units") and "training.precision auto picks fp32" in line
               for line in lines), lines
    # then fp32 in the same Python process (a notebook): accelerate refused a second precision
    # with "AcceleratorState has already been initialized ... restart your runtime"
    train(smoke_config(tmp_path / "fp32", "training.precision=fp32", "training.max_steps=2"), progress=False, log=lines.append)
    assert (tmp_path / "fp32" / "model.safetensors").is_file()


def test_a_backbone_folder_that_does_not_exist_is_named_by_its_config_key(tmp_path: Path) -> None:
    from eventroles.models.backbone import BackboneError

    config = load_config(SMOKE, [f"output.dir={tmp_path / 'model'}", "model.random=null", "model.backbone=./no_such_folder"])
    with pytest.raises(BackboneError, match=r"^model.backbone: backbone folder no_such_folder does not exist"):
        train(config, **QUIET)
