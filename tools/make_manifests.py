"""Regenerate data/manifests/*.json from a local copy of the corpora.

The corpora in the shared data folder were copied unchanged from public GitHub repositories at
fixed commits. This script records, for every file of every corpus folder, where it came from
upstream and its size and SHA-256, so that ``eventroles data download`` can fetch and verify the
same bytes. Run it after the pinned commits change:

    python3 tools/make_manifests.py --from /work/shared/data [--out data/manifests] [--only muc4]

Every local file must be covered by a rule below (and every exact-file rule must find its
file): the script fails loudly rather than write an incomplete manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from eventroles.data.download import Manifest, ManifestFile, sha256_file

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "data" / "manifests"


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    licence: str | None = None  # set only where it differs from the corpus licence


@dataclass(frozen=True)
class Rule:
    """Local path (``exact``) or local path prefix -> upstream path (prefix), from ``source``."""

    local: str
    upstream: str
    source: Source
    exact: bool = False


@dataclass(frozen=True)
class CorpusSpec:
    folder: str
    source: Source
    licence: str
    rules: tuple[Rule, ...]


GRIT = Source("xinyadu/grit_doc_event_entity", "d8212bc3f6677994576aa426c26f6939b0eb8bf1")
MUC_RAW = Source(GRIT.repo, GRIT.commit, "NIST MUC-3/4 release, no terms stated")
TRIGGERS = Source("WayneChen2021/Triggers-Data", "49068869aeeca19673323c77f23672c5355e63a2")
GEN_ARG = Source(
    "raspberryice/gen-arg", "16d8f908ecf6a9ff5d50042597ac6139157c3edb", "MIT (gen-arg repository)"
)
RE3D = Source("dstl/re3d", "b061ff06713cad4df7e5cfaed3fd07bf15b2598c")
CASIE = Source("Ebiquity/CASIE", "2c8beef56d48e8de6599891c6a5e0e5f0d82e20c")
GENEVA = Source("PlusLabNLP/GENEVA", "559e21e98ed16b00422b6cba91750c33cfe4bbcc")
CONFLIBERT = Source("eventdata/ConfliBERT", "0b630014885b9597622082034cc5ab5471b57e5b")


SPLITS = ("train", "dev", "test")


def _exact(local: str, upstream: str, source: Source) -> Rule:
    return Rule(local, upstream, source, exact=True)


SPECS: tuple[CorpusSpec, ...] = (
    CorpusSpec(
        "muc4",
        GRIT,
        "MIT (repository); the article texts belong to their publishers",
        tuple(_exact(f"{s}.json", f"data/muc/processed/{s}.json", GRIT) for s in SPLITS)
        + (_exact("muc34.tar.gz", "data/muc/raw_files/muc34.tar.gz", MUC_RAW),),
    ),
    CorpusSpec(
        "wikievents",
        TRIGGERS,
        "none stated (Triggers-Data); original/ from gen-arg, MIT",
        tuple(_exact(f"{s}.json", f"data/WikiEvents/{s}.json", TRIGGERS) for s in SPLITS)
        + (
            Rule("original/coref_", "data/wikievents/coref/", GEN_ARG),
            Rule("original/", "data/wikievents/", GEN_ARG),
        ),
    ),
    CorpusSpec(
        "re3d",
        RE3D,
        "per source folder, see its LICENSE file: OGL v3, CC BY-SA, CC BY 3.0 AU, public domain; "
        "BBC Online part CC BY-NC",
        (Rule("", "", RE3D),),
    ),
    CorpusSpec("casie", CASIE, "none stated", (Rule("", "data/", CASIE),)),
    CorpusSpec(
        "geneva",
        GENEVA,
        "see upstream repository (no licence file stated)",
        (
            _exact("train-s160.json", "data/lr/lr1200/train-s160.json", GENEVA),
            _exact("val.json", "data_time_place/val.json", GENEVA),
            _exact("test.json", "data_time_place/test.json", GENEVA),
        ),
    ),
    CorpusSpec(
        "cameo_ner",
        CONFLIBERT,
        "GPL-3.0 (repository); the authors state they do not own the copyrights of the texts",
        (Rule("", "data/cameo_ner/", CONFLIBERT),),
    ),
)


def local_files(folder: Path) -> list[str]:
    """Relative POSIX paths of every file under ``folder``, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def match(rel: str, rules: tuple[Rule, ...]) -> Rule:
    """The exact rule for ``rel``, else the longest matching prefix rule."""
    for rule in rules:
        if rule.exact and rule.local == rel:
            return rule
    prefixes = [r for r in rules if not r.exact and rel.startswith(r.local)]
    if not prefixes:
        raise SystemExit(f"error: no upstream rule covers {rel!r}; add one to SPECS in {__file__}")
    return max(prefixes, key=lambda r: len(r.local))


def build(spec: CorpusSpec, root: Path) -> Manifest:
    folder = root / spec.folder
    if not folder.is_dir():
        raise SystemExit(f"error: corpus folder {folder} not found")
    rels = local_files(folder)
    missing = [r.local for r in spec.rules if r.exact and r.local not in rels]
    if missing:
        raise SystemExit(f"error: {spec.folder}: expected files not found: {', '.join(missing)}")
    files = []
    for rel in rels:
        rule = match(rel, spec.rules)
        upstream = rule.upstream if rule.exact else rule.upstream + rel[len(rule.local) :]
        path = folder / rel
        files.append(
            ManifestFile(
                path=rel,
                upstream=upstream,
                sha256=sha256_file(path),
                size=path.stat().st_size,
                repo=rule.source.repo,
                commit=rule.source.commit,
                licence=rule.source.licence,
            )
        )
    source = spec.source
    return Manifest(spec.folder, source.repo, source.commit, spec.licence, tuple(files))


def render(manifest: Manifest) -> str:
    """Stable JSON: top-level keys one per line, one line per file (diff-friendly)."""
    data = manifest.to_dict()
    head = {k: v for k, v in data.items() if k != "files"}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "files": [')
    rows = [f"    {json.dumps(f, ensure_ascii=False)}" for f in data["files"]]
    lines.append(",\n".join(rows))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="root", type=Path, required=True, help="local data root")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="manifest folder")
    parser.add_argument("--only", action="append", help="corpus folder(s) to regenerate")
    args = parser.parse_args(argv)
    specs = [s for s in SPECS if not args.only or s.folder in args.only]
    unknown = set(args.only or ()) - {s.folder for s in SPECS}
    if unknown:
        parser.error(f"unknown corpus: {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        manifest = build(spec, args.root)
        text = render(manifest)
        Manifest.from_dict(json.loads(text), spec.folder)  # round-trip check
        (args.out / f"{spec.folder}.json").write_text(text, encoding="utf-8")
        print(f"{spec.folder}: {len(manifest.files)} files, {manifest.total_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
