"""Training and dev documents as a config asks for them: which corpora, splits and roles."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusNotFoundError, ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file
from eventroles.data.registry import get_corpus, load_corpus

from .config import Config, ConfigError, CorpusConfig


@dataclass
class LoadedCorpus:
    label: str
    weight: float
    train: list[Document]
    dev: list[Document]
    report: ReadReport = field(default_factory=ReadReport)
    source: dict = field(default_factory=dict)
    negative_windows: float = 1.0  # share of span-less training windows drawn per epoch

    def fingerprint(self) -> str:
        """A hash of what training read from this corpus (ids, texts, spans, roles of the train
        and dev documents): a model is reused only while its corpus reads the same."""
        digest = hashlib.sha256()
        for split, docs in (("train", self.train), ("dev", self.dev)):
            for doc in docs:
                spans = sorted((s.start, s.end, s.role, s.label or "") for s in doc.spans)
                record = [split, doc.id, doc.text, spans, sorted(doc.roles)]
                unknown = doc.meta.get("unknown_spans")
                digest.update(json.dumps(record + [unknown] if unknown else record).encode("utf-8"))
        return digest.hexdigest()[:16]


def restrict_roles(doc: Document, corpus: CorpusConfig) -> Document:
    """Apply a corpus entry's ``role_map`` and ``roles`` filter to one document, and its
    ``coreferent_mentions: unknown`` (the reader's coreferent mentions become ``unknown_spans``)."""
    role_map = corpus.role_map
    spans: list[Span] = []
    for span in doc.spans:
        role = role_map.get(span.role, span.role)
        if role is None:
            continue
        spans.append(replace(span, role=role))
    roles = {role_map.get(r, r) for r in doc.roles} - {None}
    if corpus.roles is not None:
        roles &= set(corpus.roles)
        spans = [s for s in spans if s.role in roles]
    meta = {key: value for key, value in doc.meta.items() if key != "unknown_spans"}
    if corpus.coreferent_mentions == "unknown":
        mentions = ((start, end, role_map.get(role, role)) for start, end, role in doc.meta.get("coreferent_mentions", ()))
        meta["unknown_spans"] = [[start, end, role] for start, end, role in mentions if role in roles]
    return replace(doc, spans=sorted(spans), roles=frozenset(roles), meta=meta)  # type: ignore[arg-type]


def _read_split(corpus: CorpusConfig, split: str, report: ReadReport) -> list[Document]:
    if corpus.path is not None:
        path = corpus.path / f"{split}.jsonl"
        where = f"data.corpora path {corpus.path}"
        if not corpus.path.exists():
            raise CorpusNotFoundError(f"{where}: no such folder (a relative path is read from the config's folder, else from the folder you run in)")
        if not corpus.path.is_dir():
            raise CorpusNotFoundError(f"{where}: a file, not a folder; a corpus folder holds train.jsonl, dev.jsonl (and test.jsonl)")
        if not path.is_file():
            dev_hint = "; `dev: []` trains without a dev split" if split in corpus.dev else ""
            raise CorpusNotFoundError(f"{where}: the folder has no {split}.jsonl (split {split!r} of the config{dev_hint})")
        return read_jsonl_file(path, report, corpus=corpus.label)
    docs, split_report = load_corpus(f"{corpus.name}:{split}")
    report.merge(split_report)
    return docs


def has_split(corpus: CorpusConfig, split: str) -> bool:
    """Whether a corpus entry has ``split`` at all (a folder's ``split.jsonl``, a registry split)."""
    if corpus.path is not None:
        return (corpus.path / f"{split}.jsonl").is_file()
    return split in get_corpus(corpus.name or "").splits


def load_split(
    corpus: CorpusConfig, split: str, report: ReadReport | None = None
) -> tuple[list[Document], ReadReport]:
    """One split of a corpus entry as training sees it: roles restricted, ``corpus`` = its label."""
    report = ReadReport() if report is None else report
    docs = [restrict_roles(d, corpus) for d in _read_split(corpus, split, report)]
    for doc in docs:
        doc.corpus = corpus.label
    return docs, report


LEAK_KIND = "train_text_also_in_held_out_split"


def other_splits(corpus: CorpusConfig) -> list[str]:
    """The corpus's splits that the config does not train on (its dev and test splits, say).

    For a folder, only the config's dev splits and a dev.jsonl / test.jsonl: other .jsonl files
    there (unannotated articles, the unsplit corpus) are not held-out splits and are not read."""
    if corpus.path is not None:
        names = list(dict.fromkeys([*corpus.dev, *(s for s in ("dev", "test") if (corpus.path / f"{s}.jsonl").is_file())]))
    else:
        names = list(get_corpus(corpus.name or "").splits)
    return [name for name in names if name not in corpus.train]


def note_leaks(
    corpus: CorpusConfig, train: list[Document], report: ReadReport, read: dict[str, list[Document]] | None = None
) -> int:
    """Count training documents whose text (whitespace aside) is also in a held-out split of the
    same corpus: such a copy leaks dev or test into training, and where it is annotated
    differently it contradicts the gold. Counted with both ids, never dropped here (the recorded
    benchmark numbers were trained with them; see docs/benchmarks.md); returns the count.
    ``read``: splits the caller has already read (the dev splits), not read again."""
    held_out: dict[str, str] = {}
    for split in other_splits(corpus):
        docs = (read or {}).get(split)
        if docs is None:
            docs = _read_split(corpus, split, ReadReport())  # their repairs are not this run's
        for doc in docs:
            held_out.setdefault(" ".join(doc.text.split()), f"{split} {doc.id}")
    leaks = 0
    for doc in train:
        twin = held_out.get(" ".join(doc.text.split()))
        if twin is not None:
            leaks += 1
            report.add(LEAK_KIND, f"train {doc.id} = {twin}")
    return leaks


def leak_note(label: str, report: ReadReport) -> str | None:
    """What ``note_leaks`` counted in ``report``, as one line naming each pair; None when nothing."""
    leaks = report.counts.get(LEAK_KIND, 0)
    if not leaks:
        return None
    pairs = "; ".join(report.examples.get(LEAK_KIND, []))
    return f"{label}: {leaks} training document(s) have the text of a held-out document ({pairs}); they are kept"


def _check_unknown(index: int, corpus: CorpusConfig, train: list[Document]) -> None:
    """``coreferent_mentions: unknown`` for a corpus whose reader records no coreferent mentions
    is a config mistake, not a silent no-op. (The encoder counts the mentions it changed.)"""
    if corpus.coreferent_mentions == "unknown" and train and not any("coreferent_mentions" in d.meta for d in train):
        raise ConfigError(
            f"data.corpora.{index} ({corpus.label}): coreferent_mentions: unknown, but this corpus records no coreferent "
            f"mentions (wikievents does: it annotates one mention per argument); remove the key"
        )


def load_corpora(config: Config) -> list[LoadedCorpus]:
    loaded = []
    for index, corpus in enumerate(config.data.corpora):
        report = ReadReport()
        train = [d for split in corpus.train for d in load_split(corpus, split, report)[0]]
        dev_splits = {split: load_split(corpus, split, report)[0] for split in corpus.dev}
        dev = [d for docs in dev_splits.values() for d in docs]
        note_leaks(corpus, train, report, dev_splits)
        _check_unknown(index, corpus, train)
        source: dict = {"train": corpus.train, "dev": corpus.dev, "weight": corpus.weight,
                        "negative_windows": corpus.negative_windows}
        if corpus.coreferent_mentions != "outside":
            source["coreferent_mentions"] = corpus.coreferent_mentions
        if corpus.name is not None:
            info = get_corpus(corpus.name)
            source.update(name=info.name, licence=info.licence, description=info.description)
        else:
            source.update(path=str(corpus.path))
        loaded.append(LoadedCorpus(corpus.label, corpus.weight, train, dev, report, source, corpus.negative_windows))
    return loaded
