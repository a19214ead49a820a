"""The corpus registry: a name -> how to read it, its splits, the roles it annotates, where it
comes from. ``load_corpus("muc4:test")`` is the one way the rest of eventroles gets documents.

The data root is ``EVENTROLES_DATA`` (default: a user cache folder) and has the layout of the
project's shared data folder, one sub-folder per corpus; ``sample`` is bundled with the package.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .document import Document
from .download import default_data_root as data_root
from .problems import CorpusNotFoundError, ReadReport
from .readers.jsonl import JSONL_SUFFIXES, read_jsonl_file

Reader = Callable[[Path, str, ReadReport], list[Document]]
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    folder: str  # under the data root (or absolute, for bundled corpora)
    reader: str  # "module:function" inside eventroles.data.readers
    splits: tuple[str, ...]
    roles: tuple[str, ...]
    labels: tuple[str, ...]  # corpus-native labels kept on spans
    licence: str
    description: str
    bundled: bool = False

    def load_reader(self) -> Reader:
        module_name, function = self.reader.split(":")
        module = importlib.import_module(f"eventroles.data.readers.{module_name}")
        return getattr(module, function)


CORPORA: dict[str, CorpusInfo] = {
    info.name: info
    for info in (
        CorpusInfo(
            "muc4", "muc4", "muc4:read", ("train", "dev", "test"),
            ("attacker", "target", "weapon", "location", "time"),
            ("PerpInd", "PerpOrg", "Target", "Victim", "Weapon", "SilverLocation", "SilverTime"),
            "MIT (processed files); NIST MUC-3/4 release, no terms stated",
            "Latin-American terrorism news 1989-91 with role fillers; location/time are a silver "
            "layer recovered from the answer keys.",
        ),
        CorpusInfo(
            "wikievents", "wikievents", "wikievents:read", ("train", "dev", "test"),
            ("attacker", "target", "location", "weapon"),
            ("Attacker", "Killer", "Injurer", "Perpetrator", "Target", "Victim", "Place",
             "Instrument", "ExplosiveDevice"),
            "none stated (gen-arg repo: MIT)",
            "News linked from Wikipedia, KAIROS event arguments; no time role.",
        ),
        CorpusInfo(
            "re3d", "re3d", "re3d:read", ("train", "dev", "test"), ("location", "time", "weapon"),
            ("Location", "Temporal", "Weapon"),
            "per source folder: OGL v3, CC BY-SA, CC BY 3.0 AU, public domain, CC BY-NC",
            "Dstl defence and security documents; deterministic document-level split.",
        ),
        CorpusInfo(
            "casie", "casie", "casie:read", ("train", "dev", "test"),
            ("attacker", "target", "location", "time"), ("Attacker", "Victim", "Place", "Time"),
            "none stated",
            "Cyber-attack news; deterministic document-level split.",
        ),
        CorpusInfo(
            "geneva", "geneva", "geneva:read", ("train", "dev", "test"),
            ("attacker", "target", "location", "time", "weapon"),
            ("Place", "Time", "Assailant", "Victim", "Weapon", "Killer", "Instrument", "Terrorist"),
            "see upstream",
            "FrameNet-derived sentences; mainly time and place data (roles set per sentence).",
        ),
        CorpusInfo(
            "cameo", "cameo_ner", "conll:read_cameo", ("train", "dev", "test"),
            ("attacker", "target"), ("S", "T"), "GPL-3.0 (repo); texts not owned by the authors",
            "ConfliBERT CAMEO source/target actors: a weakly matching source for attacker/target.",
        ),
        CorpusInfo(
            "sample", str(PACKAGE_DIR / "sample"), "jsonl:read", ("train", "dev", "test"),
            ("attacker", "target", "location", "time", "weapon"), (),
            "Apache-2.0 (the project's own)",
            "Original news-style articles written for eventroles, bundled with the package.",
            bundled=True,
        ),
    )
}


def corpus_folder(info: CorpusInfo, root: Path | None = None) -> Path:
    if info.bundled:
        return Path(info.folder)
    return (root or data_root()) / info.folder


def parse_spec(spec: str, default_split: str = "test") -> tuple[str, str]:
    name, _, split = spec.partition(":")
    return name, split or default_split


def is_jsonl_file(spec: str) -> bool:
    return Path(spec).suffix.lower() in JSONL_SUFFIXES


def get_corpus(name: str) -> CorpusInfo:
    try:
        return CORPORA[name]
    except KeyError:
        hint = ""
        path = Path(name).expanduser()
        if name.endswith(".json") and path.is_file():
            hint = ("; a .json file is not read: each document must be one line of a .jsonl file (a JSON array "
                    "converts with  jq -c '.[]' FILE > FILE.jsonl)")
        elif is_jsonl_file(name) and path.is_file():  # "mine/train.jsonl:dev"
            raise CorpusNotFoundError(f"{name} is one file, without splits: give it without ':SPLIT'") from None
        elif path.is_file():
            raise CorpusNotFoundError(f"{name}: only JSON-lines files (.jsonl, one document per line) are read"
                                      + (" (a CSV file: write one JSON object per line)" if path.suffix.lower() == ".csv" else ""))
        elif "/" in name or path.suffix:
            raise CorpusNotFoundError(f"{name}: no such file or folder (a corpus is a registry name, a .jsonl file "
                                      "or a folder of train/dev/test.jsonl)") from None
        raise CorpusNotFoundError(
            f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)} "
            f"(or give a path to a .jsonl file, or a folder of train/dev/test.jsonl){hint}"
        ) from None


def user_folder(name: str) -> Path | None:
    """The corpus folder ``name`` names (the user's own, as a config's ``path:``), or None for a
    registry name or anything that is not a folder."""
    folder = Path(name).expanduser()
    return folder if name not in CORPORA and folder.is_dir() else None


def source_files(spec: str, default_split: str = "test") -> list[Path]:
    """The files ``load_corpus(spec)`` reads (a .jsonl file; a user folder's split file; every
    file of a registry corpus's folder), which no output may replace; [] for an unknown name."""
    if is_jsonl_file(spec):
        return [Path(spec).expanduser()]
    name, split = parse_spec(spec, default_split)
    folder = user_folder(name)
    if folder is not None:
        return [folder / f"{split}.jsonl"]
    if name not in CORPORA:
        return []
    root = corpus_folder(CORPORA[name])
    return [path for path in root.rglob("*") if path.is_file()] if root.is_dir() else []


def folder_split(folder: Path, split: str) -> Path:
    """``folder/split.jsonl`` of a corpus folder; its absence names the splits the folder has."""
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        present = sorted(p.stem for p in folder.glob("*.jsonl"))
        hint = f"; name a split as {folder}:{present[0]}" if present else ""
        raise CorpusNotFoundError(f"{folder} has no {split}.jsonl (its .jsonl files: {', '.join(present) or 'none'}){hint}")
    return path


def load_corpus(
    spec: str, *, default_split: str = "test", root: Path | None = None
) -> tuple[list[Document], ReadReport]:
    """Read ``NAME[:SPLIT]`` from the registry, ``FOLDER[:SPLIT]`` (a folder of train.jsonl,
    dev.jsonl, test.jsonl, as a config's ``path:`` names it), or a ``.jsonl`` file in the project format."""
    report = ReadReport()
    path = Path(spec).expanduser()
    if is_jsonl_file(spec):
        return read_jsonl_file(path, report), report
    name, split = parse_spec(spec, default_split)
    folder = user_folder(name)
    if folder is not None:
        return read_jsonl_file(folder_split(folder, split), report), report
    info = get_corpus(name)
    if split not in info.splits:
        raise CorpusNotFoundError(f"corpus {name!r} has no split {split!r}; splits: {', '.join(info.splits)}")
    folder = corpus_folder(info, root)
    if not folder.is_dir():
        raise CorpusNotFoundError(
            f"corpus {name!r} not found at {folder}; set EVENTROLES_DATA to the folder that holds "
            f"it, or run `eventroles data download {name}`"
        )
    check_complete(info, folder)
    docs = info.load_reader()(folder, split, report)
    for doc in docs:
        doc.corpus = doc.corpus or name
    return docs, report


def incomplete_files(info: CorpusInfo, folder: Path) -> list[str]:
    """The files of the corpus's download manifest missing from ``folder`` or cut short; [] for
    a corpus without a manifest (the bundled sample)."""
    from .download import available_manifests, missing_files

    if info.folder not in available_manifests():
        return []
    return missing_files(info.folder, folder.parent)


def check_complete(info: CorpusInfo, folder: Path) -> None:
    """A corpus with a download manifest must have every file of it: half a download (an
    interrupted `data download`) would otherwise be read as a smaller corpus, without a word."""
    missing = incomplete_files(info, folder)
    if missing:
        raise CorpusNotFoundError(
            f"corpus {info.name!r} at {folder} is incomplete: {len(missing)} of its files are missing or "
            f"cut short (first: {missing[0]}); run `eventroles data download {info.name}` "
            f"(`eventroles data verify {info.name}` lists them)"
        )
