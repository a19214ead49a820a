"""Experiment configs: one YAML file, validated into typed sections before anything runs.

Unknown keys are rejected, numbers are coerced (``1e-5`` is a float, not a string), defaults
live here once, and every error names the key path and the file. ``--set a.b=c`` overrides
any value from the command line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eventroles.data.registry import CORPORA
from eventroles.data.roles import ROLES
from eventroles.data.tags import TagSet

log = logging.getLogger(__name__)


# A path as a user writes it in YAML or --set: "~/articles" is their home folder, as in a shell.
def _expand_home(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError as error:  # "~bob/x" for a user this machine does not have
        raise ValueError(f"{path}: {error}") from None


UserPath = Annotated[Path, AfterValidator(_expand_home)]


class ConfigError(Exception):
    """A config that cannot be used; the message names the file and the key path."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: Any) -> Any:
        """``epochs: true`` is a slip, not one epoch: pydantic would read a bool as 1 for a number."""
        if isinstance(value, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            kinds = set(getattr(annotation, "__args__", ())) or {annotation}
            if bool not in kinds and kinds & {int, float}:
                raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


class RandomBackboneConfig(Section):
    """A tiny random BERT (for tests and smoke runs); uses the ``tokenizer`` backbone's vocabulary."""

    hidden_size: int = Field(32, ge=8)
    num_hidden_layers: int = Field(2, ge=1)
    num_attention_heads: int = Field(2, ge=1)
    intermediate_size: int = Field(64, ge=8)
    tokenizer: str = "minilm"


class ModelConfig(Section):
    backbone: str = Field("minilm", description="'minilm' (packaged all-MiniLM-L6-v2), a local folder, or a hub id")
    random: RandomBackboneConfig | None = None
    init_from: UserPath | None = Field(
        None, description="a trained eventroles model folder to start from instead of `backbone`: its backbone, "
        "word-shape embedding, tokenizer and the scores of the tags (or roles) it shares with this model; `backbone` "
        "is then not read (a path relative to the working directory, as output.dir)",
    )
    roles: list[str] = Field(default_factory=lambda: list(ROLES))
    native_tags: dict[str, str] | None = Field(
        None, description="train corpus-native labels as heads, each mapped to a role (e.g. MUC-4's PerpInd: attacker)"
    )
    word_shape: bool = False
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    attention_dropout: float | None = Field(
        0.0, ge=0.0, lt=1.0,
        description="dropout on the backbone's attention probabilities (null: the checkpoint's own, 0.1 for "
        "MiniLM); 0 lets torch use its fused attention kernel in training, 2.2x faster on a CPU",
    )

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if not roles or len(set(roles)) != len(roles):
            raise ValueError("roles must be a non-empty list without repeats")
        return roles

    @field_validator("native_tags")
    @classmethod
    def _native_roles(cls, tags: dict[str, str] | None) -> dict[str, str] | None:
        for tag, role in (tags or {}).items():
            if role not in ROLES:
                raise ValueError(f"tag {tag!r} maps to unknown role {role!r}; roles: {', '.join(ROLES)}")
        return tags

    @model_validator(mode="after")
    def _one_start(self) -> "ModelConfig":
        if self.init_from is not None and self.random is not None:
            raise ValueError("give at most one of 'init_from' (a trained model folder) and 'random' (a random backbone)")
        return self

    def tagset(self) -> TagSet:
        if self.native_tags:
            return TagSet.from_labels(self.native_tags)
        return TagSet.from_roles(self.roles)


class CorpusConfig(Section):
    name: str | None = Field(None, description="a registry corpus (see `eventroles data list`)")
    path: UserPath | None = Field(None, description="or a folder holding train.jsonl / dev.jsonl / test.jsonl")
    train: list[str] = Field(default_factory=lambda: ["train"])
    dev: list[str] = Field(default_factory=lambda: ["dev"])
    weight: float = Field(1.0, gt=0.0, description="how often each training window is drawn per epoch")
    negative_windows: float = Field(
        1.0, gt=0.0, le=1.0,
        description="share of the training windows without any span drawn each epoch (fresh draw each epoch)",
    )
    roles: list[str] | None = Field(None, description="use only these of the corpus's roles")
    role_map: dict[str, str | None] = Field(default_factory=dict, description="rename roles; null drops one")
    coreferent_mentions: Literal["outside", "unknown"] = Field(
        "outside",
        description="the other mentions of an argument in a corpus that annotates one mention of it (WikiEvents): "
        "'outside' trains them as O, as its scoring counts them; 'unknown' takes O or the role as right there",
    )

    @field_validator("train", "dev")
    @classmethod
    def _registry_splits(cls, chosen: list[str], info: Any) -> list[str]:
        """A registry corpus's split names are known now; a folder's are checked when it is read."""
        name = info.data.get("name")
        if name in CORPORA:
            for split in chosen:
                if split not in CORPORA[name].splits:
                    raise ValueError(f"corpus {name!r} has no split {split!r}; its splits: {', '.join(CORPORA[name].splits)}")
        return chosen

    @model_validator(mode="after")
    def _one_source(self) -> "CorpusConfig":
        if (self.name is None) == (self.path is None):
            raise ValueError("give exactly one of 'name' (a registry corpus) or 'path' (a folder of .jsonl files)")
        if self.name is not None and self.name not in CORPORA:
            raise ValueError(f"unknown corpus {self.name!r}; known: {', '.join(CORPORA)}")
        for role in list(self.roles or []) + [r for r in self.role_map.values() if r] + list(self.role_map):
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        return self

    @property
    def label(self) -> str:
        return self.name or Path(self.path or "").name


class DataConfig(Section):
    corpora: list[CorpusConfig] = Field(min_length=1)


class TrainingConfig(Section):
    epochs: float = Field(3, gt=0, description="passes over the training windows; a fraction (2.5) stops part way")
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    learning_rate: float = Field(5e-5, gt=0)
    head_learning_rate: float | None = Field(None, gt=0, description="default: 20x learning_rate")
    schedule: Literal["linear", "constant", "cosine"] = "linear"
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(16, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    max_length: int = Field(256, ge=8)
    stride: int = Field(64, ge=0)
    seed: int = 13
    eval_every: int | None = Field(None, ge=1, description="optimizer steps between dev evaluations (default: each epoch)")
    checkpoint_every: int | None = Field(None, ge=1, description="optimizer steps between resumable checkpoints")
    early_stopping: int | None = Field(None, ge=1, description="stop after this many evaluations without improvement")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"
    )
    max_grad_norm: float = Field(1.0, gt=0)
    span_weight: float = Field(
        1.0, gt=0, description="loss weight of B/I cells against O cells; raise it where spans are rare (MUC-4)"
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's choice)")
    fused_optimizer: bool = Field(
        True, description="torch's fused AdamW kernel: one pass over all weights per step instead of a loop of "
        "small operations per tensor (1.3x faster steps on a 2-core CPU; false: the loop, with which the "
        "trainings recorded before 2026-12-08 ran)",
    )
    selection_metric: Literal["seqeval", "ceaf"] = Field(
        "seqeval", description="dev score that picks the best checkpoint and the span offset: seqeval micro F1, or "
        "CEAF-REE micro F1 (document-level fillers; needs gold entities, as MUC-4 and WikiEvents have)",
    )
    name_substitution: float = Field(
        0.0, ge=0.0, le=1.0,
        description="chance that an epoch reads a training document as a copy whose gold names (capitalised "
        "attacker, target, location... spans) are replaced everywhere by names other training documents give "
        "the same role, so roles are learnt from context (0: off; texts in capitals are never changed)",
    )
    weight_average: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="keep an exponential moving average of the weights with this decay (e.g. 0.995) and evaluate "
        "and save it instead of the raw weights; null: off",
    )
    calibrate_offset: bool = Field(
        True, description="after training, choose the span offset (a threshold on B/I scores) on the dev splits"
    )

    @model_validator(mode="after")
    def _stride_fits(self) -> "TrainingConfig":
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length - 2 ({self.max_length - 2})")
        return self


class OutputConfig(Section):
    dir: UserPath = Field(Path("output/model"), description="the trained model folder (a previous model folder there is replaced; a file or another folder is refused)")
    run_dir: UserPath | None = Field(None, description="checkpoints and logs (default: <dir>.run)")

    def resolved_run_dir(self) -> Path:
        model_dir = self.dir if self.dir.name not in ("", ".", "..") else self.dir.resolve()
        return self.run_dir or model_dir.with_name(model_dir.name + ".run")


class Config(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


NO_DEFAULT = object()  # equal to nothing but itself: a key without a default differs from any value


def schema_default(flat_key: str) -> Any:
    """The default of a flat config key ("data.corpora.0.weight" -> 1.0), or ``NO_DEFAULT``.

    Why: a config saved by an earlier eventroles lacks the keys added since; comparing it with
    today's config (``--resume``, transfer's model reuse) must read such a key as its default."""
    *sections, key = flat_key.split(".")
    model = _section_model(sections)
    field = model.model_fields.get(key) if model is not None else None
    if field is None or field.is_required():
        return NO_DEFAULT
    return field.get_default(call_default_factory=True)


def _section_model(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The config section a key path leads to ("data", "corpora", 0 -> ``CorpusConfig``; list
    indices are skipped), or None where the path leaves the schema or ends at a plain value."""
    model: type[BaseModel] | None = Config
    for part in path:
        if isinstance(part, int) or part.isdigit():
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        annotation = field.annotation  # a section, list[section] or section | None
        model = next((inner for inner in (annotation, *getattr(annotation, "__args__", ()))
                      if isinstance(inner, type) and issubclass(inner, BaseModel)), None)
    return model


KeyLines = dict[tuple[str, ...], int]


def _format_errors(
    error: ValidationError, source: str, overrides: Sequence[str] = (), lines_of: KeyLines | None = None
) -> str:
    """One line per invalid key, with the file's line where the key (or its nearest section) is
    written; a key or value that came from ``--set`` says so."""
    set_paths = [(parse_override(text)[0], text) for text in overrides]
    lines_of = lines_of or {}
    lines = [f"{source}: invalid config"]
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        path = ".".join(loc) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)" + _close_key(item)
        elif item["type"] in ("model_type", "dict_type"):
            message = f"expected a section of key: value lines, got {item['input']!r}"
            if loc[-2:-1] == ["corpora"]:
                message += f" (a corpus entry is written `- name: {item['input']}` or `- path: folder/`)"
        in_file = tuple(loc) in lines_of
        given = [text for keys, text in set_paths if loc[: len(keys)] == keys or (not in_file and keys[: len(loc)] == loc)]
        inside = [text for keys, text in set_paths if keys[: len(loc)] == loc]
        if given:
            message += f" (from --set {given[-1]!r}, not the file)"
        elif inside:
            message += f" (with --set {inside[-1]!r})"
        where = next((lines_of[tuple(loc[:n])] for n in range(len(loc), 0, -1) if tuple(loc[:n]) in lines_of), None)
        at = f"line {where}: " if where is not None and not given else ""
        lines.append(f"  {at}{path}: {message}")
    return "\n".join(lines)


def _close_key(item: Any) -> str:
    """' (did you mean 'epochs'?)' for a misspelt key, from the keys its section has."""
    import difflib

    model = _section_model(item["loc"][:-1])
    if model is None:
        return ""
    close = difflib.get_close_matches(str(item["loc"][-1]), list(model.model_fields), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_yaml(text: str, source: str) -> tuple[Any, KeyLines]:
    """The YAML text's value and the line of each of its keys (``key_lines``), parsed once."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines_of = key_lines(root, source)  # before construction, which flattens merge keys in place
        return (loader.construct_document(root) if root is not None else None), lines_of
    finally:
        loader.dispose()


def key_lines(root: Any, source: str) -> KeyLines:
    """The line (1-based) of every key and list item of a composed YAML node, by key path; a key
    written twice in one mapping is refused (YAML loaders keep the last one silently)."""
    found: KeyLines = {}
    walking: set[int] = set()  # an anchor inside itself (`&d {self: *d}`) must not recurse forever

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if id(node) in walking:
            return
        walking.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: several merges are fine
                    continue
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if (key_node.tag, key) in seen:
                    where = ".".join((*path, key))
                    raise ConfigError(f"{source}, line {line}: {where} is written twice "
                                      f"(first at line {seen[key_node.tag, key]}); YAML would keep only the last one")
                seen[key_node.tag, key] = line
                found.setdefault((*path, key), line)
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                found.setdefault((*path, str(index)), item.start_mark.line + 1)
                walk(item, (*path, str(index)))
        walking.discard(id(node))

    if root is not None:
        walk(root, ())
    return found


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, _, raw = text.partition("=")
    if any(not part.strip() for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected section.key=value (an empty key)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: value is not valid YAML: {error}") from None
    return key.strip().split("."), value


def _list_index(node: list, part: str, text: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {text!r}: {part!r} is not an index of the list (it has {len(node)} items)")
    return int(part)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for part in path[:-1]:
            if isinstance(node, list):
                node = node[_list_index(node, part, text)]
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {text!r}: {part!r} is not a section")
        if isinstance(node, list):
            node[_list_index(node, path[-1], text)] = value
        else:
            node[path[-1]] = value
    return data


def config_from_dict(
    data: Any, source: str = "<config>", overrides: Sequence[str] = (), lines_of: KeyLines | None = None
) -> Config:
    """A validated ``Config``; ``overrides`` (the ``--set`` texts applied) are named in errors,
    and ``lines_of`` (from ``key_lines``) gives each invalid key's line in the file."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config must be a YAML mapping with sections model, data, training, output")
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source, overrides, lines_of)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read, override and validate a YAML config; relative corpus paths are resolved against it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data, lines_of = read_yaml(path.read_text(encoding="utf-8"), str(path))
        data = data or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        config_from_dict(data, str(path))  # raises: a config must be a mapping
    data = apply_overrides(data, overrides or [])
    config = config_from_dict(data, str(path), overrides or [], lines_of)
    for index, corpus in enumerate(config.data.corpora):
        if corpus.path is not None and not corpus.path.is_absolute():
            candidate = (path.parent / corpus.path).resolve()
            if candidate.exists() or not corpus.path.exists():
                corpus.path = candidate
            else:  # kept (configs written for the folder they are run from), but said
                log.warning("%s: data.corpora.%d.path %s is not in the config's folder (%s); read from the folder "
                            "you run in: %s", path, index, corpus.path, path.parent, corpus.path.resolve())
    return config


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's message on one line with the line and column where it stopped ("line 21, column
    3: found character '\\t' that cannot start any token"), not its multi-line excerpt."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(error).split())
    context = getattr(error, "context", None)
    found = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"{found} ({context})" if context else found


def config_to_yaml(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), sort_keys=False)
