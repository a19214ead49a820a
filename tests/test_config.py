"""Experiment configs: every mistake is caught before training starts and named by file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eventroles.train.config import Config, ConfigError, apply_overrides, config_from_dict, config_to_yaml, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
MINIMAL = "data:\n  corpora:\n    - name: muc4\n"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, overrides: list[str] | None = None) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    message = str(caught.value)
    return message


def test_the_repository_has_configs() -> None:
    assert CONFIGS, "configs/*.yaml not found"


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, Config)
    for corpus in config.data.corpora:
        if corpus.path is not None:
            assert corpus.path.is_absolute()
    assert config.training.stride < config.training.max_length - 2
    config.model.tagset()  # the heads can be built


def test_minimal_config_gets_the_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL))
    assert config.model.backbone == "minilm"
    assert config.model.roles == ["attacker", "target", "location", "time", "weapon"]
    assert config.data.corpora[0].train == ["train"] and config.data.corpora[0].weight == 1.0
    assert config.training.max_length == 256 and config.training.stride == 64
    assert config.output.resolved_run_dir() == Path("output/model.run")


def test_unknown_key_names_the_key_path_and_the_file(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  epoch: 3\n")
    assert str(tmp_path / "exp.yaml") in message
    assert "training.epoch: unknown key" in message
    message = _error(tmp_path, "data:\n  corpora:\n    - name: muc4\n      wieght: 2\n")
    assert "data.corpora.0.wieght: unknown key" in message
    message = _error(tmp_path, MINIMAL + "modle: {}\n")
    assert "modle: unknown key" in message


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  batch_size: many\n")
    assert "exp.yaml" in message and "training.batch_size" in message and "integer" in message
    message = _error(tmp_path, MINIMAL + "training:\n  schedule: exponential\n")
    assert "training.schedule" in message and "linear" in message
    message = _error(tmp_path, MINIMAL + "training:\n  learning_rate: -1\n")
    assert "training.learning_rate" in message


def test_numbers_are_coerced(tmp_path: Path) -> None:
    # YAML 1.1 reads "1e-5" as a string; the config still understands it as a float.
    config = load_config(_write(tmp_path, MINIMAL + "training:\n  learning_rate: 1e-5\n  epochs: 2\n"))
    assert config.training.learning_rate == pytest.approx(1e-5)
    assert isinstance(config.training.learning_rate, float)


def test_unknown_corpus_lists_the_known_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, "data:\n  corpora:\n    - name: muc5\n")
    assert "data.corpora.0" in message and "unknown corpus 'muc5'" in message and "wikievents" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (MINIMAL + "model:\n  roles: [attacker, perpetrator]\n", "model.roles"),
        (MINIMAL + "model:\n  native_tags: {PerpInd: perpetrator}\n", "model.native_tags"),
        ("data:\n  corpora:\n    - name: muc4\n      roles: [place]\n", "data.corpora.0"),
        ("data:\n  corpora:\n    - name: muc4\n      role_map: {location: place}\n", "data.corpora.0"),
    ],
)
def test_unknown_role_is_rejected(tmp_path: Path, text: str, where: str) -> None:
    message = _error(tmp_path, text)
    assert where in message and "unknown role" in message and "attacker, target, location, time, weapon" in message


def test_role_map_may_drop_a_role(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "data:\n  corpora:\n    - name: muc4\n      role_map: {weapon: null, target: attacker}\n"))
    assert config.data.corpora[0].role_map == {"weapon": None, "target": "attacker"}


def test_corpus_needs_exactly_one_source(tmp_path: Path) -> None:
    assert "exactly one of 'name'" in _error(tmp_path, "data:\n  corpora:\n    - name: muc4\n      path: x\n")
    assert "exactly one of 'name'" in _error(tmp_path, "data:\n  corpora:\n    - weight: 2\n")
    assert "data.corpora" in _error(tmp_path, "data:\n  corpora: []\n")
    assert "data: Field required" in _error(tmp_path, "training:\n  epochs: 1\n")


@pytest.mark.parametrize(("max_length", "stride"), [(10, 8), (10, 9), (32, 100)])
def test_stride_must_leave_room_in_a_window(tmp_path: Path, max_length: int, stride: int) -> None:
    message = _error(tmp_path, MINIMAL + f"training:\n  max_length: {max_length}\n  stride: {stride}\n")
    assert "stride" in message and f"max_length - 2 ({max_length - 2})" in message


def test_largest_valid_stride(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + "training:\n  max_length: 10\n  stride: 7\n"))
    assert config.training.stride == 7


def test_relative_corpus_path_is_resolved_against_the_config_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "corpora" / "mine").mkdir(parents=True)
    path = _write(tmp_path / "configs", "data:\n  corpora:\n    - path: ../corpora/mine\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.data.corpora[0].path == (tmp_path / "corpora" / "mine").resolve()
    assert config.data.corpora[0].label == "mine"


def test_a_corpus_path_found_only_in_the_working_folder_is_read_from_there_and_said(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "mine").mkdir()
    path = _write(tmp_path / "configs", "data:\n  corpora:\n    - path: mine\n")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("WARNING"):
        config = load_config(path)
    assert config.data.corpora[0].path.resolve() == (tmp_path / "mine").resolve()
    assert "data.corpora.0.path mine is not in the config's folder" in caplog.text


def test_absolute_corpus_path_is_kept(tmp_path: Path) -> None:
    target = (tmp_path / "abs").resolve()
    config = load_config(_write(tmp_path, f"data:\n  corpora:\n    - path: {target}\n"))
    assert config.data.corpora[0].path == target


# -- overrides ------------------------------------------------------------------------------------


def test_set_overrides_scalars_and_creates_sections(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "training:\n  epochs: 3\n")
    config = load_config(path, ["training.epochs=0.5", "training.learning_rate=2e-5", "model.random.hidden_size=16",
                                "output.dir=/tmp/x", "model.roles=[attacker, target]"])
    assert config.training.epochs == 0.5
    assert config.training.learning_rate == pytest.approx(2e-5)
    assert config.model.random is not None and config.model.random.hidden_size == 16
    assert config.output.dir == Path("/tmp/x")
    assert config.model.roles == ["attacker", "target"]


def test_set_indexes_lists(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  corpora:\n    - name: muc4\n    - name: casie\n")
    config = load_config(path, ["data.corpora.0.weight=2", "data.corpora.1.train=[train, dev]"])
    assert config.data.corpora[0].weight == 2.0 and config.data.corpora[1].weight == 1.0
    assert config.data.corpora[1].train == ["train", "dev"]
    config = load_config(path, ["data.corpora.1={name: re3d}"])
    assert [c.name for c in config.data.corpora] == ["muc4", "re3d"]


def test_set_results_are_validated_too(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL, ["training.stride=500"])
    assert "stride" in message
    message = _error(tmp_path, MINIMAL, ["training.epoch=1"])
    assert "training.epoch: unknown key" in message


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("training.epoch=2", "training.epoch: unknown key (misspelt?) (did you mean 'epochs'?) (from --set 'training.epoch=2', not the file)"),
        ("training.epochs=abc", "training.epochs: Input should be a valid number"),
        ("training.batch_size=2.5", "training.batch_size: "),
    ],
)
def test_a_bad_set_is_named_as_the_set_not_the_file(tmp_path: Path, override: str, line: str) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  epochs: 3\n", [override])
    assert line in message and f"(from --set {override!r}, not the file)" in message
    from_file = _error(tmp_path, MINIMAL + "training:\n  epoch: 3\n", ["training.seed=5"])
    assert "training.epoch: unknown key (misspelt?)" in from_file and "--set" not in from_file


@pytest.mark.parametrize("device", ["gpu", "mps", "bogus", "cuda:x"])
def test_an_unknown_training_device_is_refused(tmp_path: Path, device: str) -> None:
    message = _error(tmp_path, MINIMAL + f"training:\n  device: '{device}'\n")
    assert "training.device" in message  # it was trained on the CPU without a word
    assert load_config(_write(tmp_path, MINIMAL + "training:\n  device: cuda:1\n")).training.device == "cuda:1"


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("training.epochs", "expected section.key=value"),
        ("data.corpora.5.weight=2", "not an index"),
        ("data.corpora.x.weight=2", "not an index"),
        ("data.corpora.7=2", "not an index"),
        ("data.corpora.first=2", "not an index"),
        ("training.epochs.max=2", "not a section"),
        ("training.epochs=[1", "not valid YAML"),
        ("=3", "an empty key"),
        ("training..epochs=3", "an empty key"),
    ],
)
def test_bad_overrides_are_config_errors(tmp_path: Path, override: str, fragment: str) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  epochs: 3\n", [override])
    assert fragment in message and override.split("=")[0] in message


def test_apply_overrides_on_a_plain_dict() -> None:
    data = {"a": {"b": [1, {"c": 2}]}}
    assert apply_overrides(data, ["a.b.1.c=5", "a.b.0=x", "a.d=null"]) == {"a": {"b": ["x", {"c": 5}], "d": None}}


# -- file problems and output ----------------------------------------------------------------------


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    assert "not valid YAML" in _error(tmp_path, "data: [unclosed\n")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("data:\n  corpora:\n    - name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(bad)
    assert "must be a YAML mapping" in _error(tmp_path, "- just\n- a list\n")
    assert "must be a YAML mapping" in _error(tmp_path, "- just\n- a list\n", ["training.epochs=1"])
    with pytest.raises(ConfigError, match="mapping"):
        config_from_dict(["not", "a", "dict"])


def test_config_to_yaml_round_trips(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, MINIMAL + "model:\n  native_tags: {PerpInd: attacker, Target: target}\n"))
    again = config_from_dict(yaml.safe_load(config_to_yaml(config)))
    assert again == config
    assert again.model.tagset().tags == ("PerpInd", "Target")


def test_the_run_folder_of_a_model_in_the_current_folder_has_a_name(tmp_path: Path, monkeypatch) -> None:
    from eventroles.train.config import OutputConfig

    monkeypatch.chdir(tmp_path)
    assert OutputConfig(dir=Path(".")).resolved_run_dir() == tmp_path.parent / f"{tmp_path.name}.run"  # was a ValueError
    assert OutputConfig(dir=Path("out/model")).resolved_run_dir() == Path("out/model.run")


def test_paths_starting_with_a_tilde_are_in_the_home_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "train.jsonl").write_text((FIXTURES / "smoke" / "train.jsonl").read_text())
    (tmp_path / "articles" / "dev.jsonl").write_text((FIXTURES / "smoke" / "dev.jsonl").read_text())
    path = tmp_path / "cfg" / "my.yaml"
    path.parent.mkdir()
    path.write_text("data:\n  corpora:\n    - path: ~/articles\noutput:\n  dir: ~/models/x\n")
    config = load_config(path, ["model.init_from=~/models/flagship"])
    assert config.data.corpora[0].path == tmp_path / "articles"  # was cfg/~/articles: no such folder
    assert config.output.dir == tmp_path / "models" / "x" and config.output.resolved_run_dir() == tmp_path / "models" / "x.run"
    assert config.model.init_from == tmp_path / "models" / "flagship"


def test_a_home_folder_of_an_unknown_user_is_a_config_error(tmp_path: Path) -> None:
    message = _error(tmp_path, "data:\n  corpora:\n    - path: ~nosuchuser-eventroles/articles\n")
    assert "data.corpora.0.path" in message  # was a RuntimeError traceback from pathlib


def test_a_config_saved_before_a_key_existed_reads_it_as_its_default() -> None:
    # --resume and transfer's model reuse compare saved configs with today's: a key added since
    # (coreferent_mentions) must not make every earlier run "another config".
    from eventroles.train.checkpoints import changed_keys, flat_config
    from eventroles.train.config import RandomBackboneConfig

    now = flat_config(load_config(Path(__file__).resolve().parents[1] / "configs" / "wikievents.yaml").model_dump(mode="json"))
    before = {k: v for k, v in now.items() if not k.endswith(".coreferent_mentions")}
    assert changed_keys(before, now) == []
    changed = dict(now, **{"data.corpora.0.coreferent_mentions": "unknown"})
    assert changed_keys(before, changed) == ["data.corpora.0.coreferent_mentions"]
    assert changed_keys({**before, "training.seed": 7}, now) == ["training.seed"]
    # a saved config as an earlier eventroles wrote it: the corpora list without the key
    dump = load_config(Path(__file__).resolve().parents[1] / "configs" / "conflict.yaml").model_dump(mode="json")
    old = {**dump, "data": {"corpora": [{k: v for k, v in c.items() if k != "coreferent_mentions"}
                                        for c in dump["data"]["corpora"]]}}
    assert changed_keys(flat_config(old), flat_config(dump)) == []
    # but a whole section one side lacks is a difference, even where its values are the defaults
    tiny = {**dump, "model": {**dump["model"], "random": RandomBackboneConfig().model_dump(mode="json")}}
    assert "model.random" in changed_keys(flat_config(dump), flat_config(tiny))
    fewer = {**dump, "data": {"corpora": dump["data"]["corpora"][:-1]}}
    assert "data.corpora.6.name" in changed_keys(flat_config(dump), flat_config(fewer))


# -- lines, repeated keys, slips a YAML loader lets through -----------------------------------------


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # YAML keeps the last of two equal keys: the seed, or a whole second training section
    # (which dropped the first one's learning rate without a word), silently won.
    message = _error(tmp_path, MINIMAL + "training:\n  seed: 13\n  seed: 14\n")
    assert "exp.yaml, line 6: training.seed is written twice (first at line 5)" in message
    message = _error(tmp_path, MINIMAL + "training:\n  learning_rate: 1.0e-4\noutput:\n  dir: x\ntraining:\n  epochs: 3\n")
    assert "line 8: training is written twice (first at line 4)" in message
    # the same key in two list items is not a repeat
    text = "data:\n  corpora:\n    - name: muc4\n      weight: 2\n    - name: wikievents\n      weight: 1\n"
    assert [c.weight for c in load_config(_write(tmp_path, text)).data.corpora] == [2.0, 1.0]


def test_an_invalid_key_is_named_with_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  seed: 1\n  epcohs: 10\n")
    assert "line 6: training.epcohs: unknown key (misspelt?) (did you mean 'epochs'?)" in message
    message = _error(tmp_path, MINIMAL + "training:\n  epochs: ten\n")
    assert "line 5: training.epochs: Input should be a valid number" in message
    message = _error(tmp_path, "data:\n  corpora:\n    - name: muc4\n    - name: sampel\n")
    assert "line 4: data.corpora.1: unknown corpus 'sampel'" in message
    # a missing required section is named at the nearest line the file has for it (none here)
    assert "  data: Field required" in _error(tmp_path, "training:\n  epochs: 3\n")


def test_a_corpus_written_as_a_bare_name_says_how_to_write_it(tmp_path: Path) -> None:
    message = _error(tmp_path, "data:\n  corpora:\n    - muc4\n")
    assert "line 3: data.corpora.0: expected a section of key: value lines, got 'muc4'" in message
    assert "`- name: muc4`" in message


def test_a_yaml_syntax_error_is_one_line_with_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n\tepochs: 3\n")
    assert "not valid YAML: line 5, column 1:" in message and "\n" not in message


def test_true_is_not_a_number(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL + "training:\n  epochs: true\n")
    assert "training.epochs: expected a number, got true" in message  # it trained one epoch
    assert "training.max_steps" in _error(tmp_path, MINIMAL + "training:\n  max_steps: yes\n")
    assert load_config(_write(tmp_path, MINIMAL + "model:\n  word_shape: yes\n")).model.word_shape is True


def test_a_registry_split_that_does_not_exist_is_refused_before_reading(tmp_path: Path) -> None:
    message = _error(tmp_path, "data:\n  corpora:\n    - name: muc4\n      train: [trian]\n")
    assert "line 4: data.corpora.0.train: corpus 'muc4' has no split 'trian'; its splits: train, dev, test" in message


def test_a_misspelt_section_in_set_is_blamed_on_the_set(tmp_path: Path) -> None:
    message = _error(tmp_path, MINIMAL, ["trainig.epochs=3"])
    assert "trainig: unknown key (misspelt?) (did you mean 'training'?) (from --set 'trainig.epochs=3', not the file)" in message
    message = _error(tmp_path, MINIMAL, ["data.corpora.0.name=sampel"])
    assert "data.corpora.0: unknown corpus 'sampel'" in message and "(with --set 'data.corpora.0.name=sampel')" in message


def test_yaml_merge_keys_and_self_referencing_anchors(tmp_path: Path) -> None:
    text = ("data:\n  corpora:\n    - &first {name: muc4, weight: 2}\n"
            "    - <<: *first\n      <<: {weight: 3}\n      name: wikievents\n")  # two merges: not a repeated key
    assert [c.weight for c in load_config(_write(tmp_path, text)).data.corpora] == [2.0, 3.0]  # as PyYAML merges
    message = _error(tmp_path, "data: &d\n  corpora: [{name: muc4}]\n  self: *d\n")  # was a RecursionError
    assert "data.self: unknown key" in message
