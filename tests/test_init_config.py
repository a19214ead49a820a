"""`eventroles init-config`: the starting config validates as written, and its commented options do too."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from eventroles.cli import app
from eventroles.train.config import load_config


def test_starting_config_loads_and_names_its_corpora(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "my.yaml"
    result = runner.invoke(app, ["init-config", str(path), "-c", "sample", "-c", "muc4"])
    assert result.exit_code == 0, result.output
    config = load_config(path)
    assert [corpus.name for corpus in config.data.corpora] == ["sample", "muc4"]
    assert config.model.init_from is None


def test_the_commented_warm_start_line_validates_once_uncommented(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "my.yaml"
    runner.invoke(app, ["init-config", str(path)])
    text = path.read_text(encoding="utf-8")
    assert "# init_from: output/conflict" in text
    path.write_text(text.replace("# init_from:", "init_from:"), encoding="utf-8")
    assert load_config(path).model.init_from == Path("output/conflict")


def test_an_existing_file_is_kept_without_force(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "my.yaml"
    path.write_text("mine\n", encoding="utf-8")
    result = runner.invoke(app, ["init-config", str(path)])
    assert result.exit_code == 1 and "--force" in result.output
    assert path.read_text(encoding="utf-8") == "mine\n"


def test_an_unregistered_corpus_points_at_path(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "my.yaml"
    result = runner.invoke(app, ["init-config", str(path), "-c", "my_articles"])
    assert result.exit_code == 1 and "--corpus my_articles: not a registered corpus" in result.output
    assert "- path: FOLDER" in result.output and not path.exists()


def test_an_output_folder_that_yaml_would_misread_is_written_quoted(tmp_path: Path, runner: CliRunner) -> None:
    for number, output in enumerate(["runs/my model: v1", "@latest", "yes", "output/model", "runs/😀: x"]):
        path = tmp_path / f"my{number}.yaml"
        result = runner.invoke(app, ["init-config", str(path), "--output", output])
        assert result.exit_code == 0, result.output  # was a YAML traceback, or output.dir: True
        assert load_config(path).output.dir == Path(output)


def test_the_starting_config_trains_long_enough_for_a_few_dozen_articles(tmp_path: Path, runner: CliRunner) -> None:
    # 3 epochs at 5e-5 on 43 articles (33 steps) learnt nothing: dev F1 0 at every evaluation
    path = tmp_path / "my.yaml"
    runner.invoke(app, ["init-config", str(path)])
    training = load_config(path).training
    assert training.epochs >= 10 and training.learning_rate >= 1e-4 and training.batch_size <= 4


def test_a_folder_or_a_file_on_the_way_is_refused_in_words(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "folder").mkdir()
    result = runner.invoke(app, ["init-config", str(tmp_path / "folder"), "--force"])
    assert result.exit_code != 0 and "is a folder; give a file name" in result.output  # was "[Errno 21] Is a directory"
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["init-config", str(tmp_path / "afile" / "x.yaml")])
    assert result.exit_code != 0 and "is a file, not a folder" in result.output  # was "[Errno 17] File exists"


def test_the_command_says_its_version(runner: CliRunner) -> None:
    from eventroles import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"eventroles {__version__}"
