"""Tests for the corpus downloader against a file:// mirror built from invented files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from eventroles.data.download import (
    DEFAULT_MIRROR,
    DownloadError,
    Manifest,
    ManifestError,
    available_manifests,
    default_data_root,
    download_corpus,
    file_url,
    load_manifest,
    verify_corpus,
)
from eventroles.data.problems import CorpusNotFoundError

SHARED = Path(
    os.environ.get(
        "EVENTROLES_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real corpora not found at {SHARED} (set EVENTROLES_SHARED_DATA)"
)

REPO = "someone/toy-corpus"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_REPO = "someone-else/extra"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"

# local path -> (upstream path, repo, commit, content)
FILES = {
    "train.json": ("data/toy/train.json", REPO, COMMIT, b'{"text": "Rebels shelled a town."}\n'),
    "Some Source/documents.json": ("Some Source/documents.json", REPO, COMMIT, b"a convoy\n"),
    "original/extra.jsonl": ("data/extra/extra.jsonl", OTHER_REPO, OTHER_COMMIT, b"[1, 2, 3]\n"),
}


def _entry(path: str) -> dict:
    upstream, repo, commit, content = FILES[path]
    entry = {
        "path": path,
        "upstream": upstream,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }
    if repo != REPO:
        entry.update(repo=repo, commit=commit)
    return entry


@pytest.fixture
def manifest() -> dict:
    return {
        "folder": "toy",
        "repo": REPO,
        "commit": COMMIT,
        "licence": "invented for tests",
        "files": [_entry(p) for p in FILES],
    }


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    for upstream, repo, commit, content in FILES.values():
        target = root / repo / commit / upstream
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def _mirror_file(mirror: Path, local: str) -> Path:
    upstream, repo, commit, _ = FILES[local]
    return mirror / repo / commit / upstream


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.part")] if folder.exists() else []


def test_download_writes_verified_files(manifest, mirror, tmp_path):
    root = tmp_path / "data"
    result = download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False)
    assert sorted(result.downloaded) == sorted(FILES)
    assert result.skipped == []
    assert result.path == root / "toy"
    for local, (_, _, _, content) in FILES.items():
        assert (root / "toy" / local).read_bytes() == content
        umask = os.umask(0)
        os.umask(umask)
        assert (root / "toy" / local).stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert verify_corpus(manifest, root) == []
    assert _leftovers(root) == []


def test_second_run_skips_and_force_refetches(manifest, mirror, tmp_path):
    root = tmp_path / "data"
    download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False)
    again = download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False)
    assert again.downloaded == [] and sorted(again.skipped) == sorted(FILES)
    forced = download_corpus(manifest, root, mirror=str(mirror), force=True, progress=False)
    assert sorted(forced.downloaded) == sorted(FILES)


def test_corrupted_mirror_file_raises_and_leaves_nothing(manifest, mirror, tmp_path):
    _mirror_file(mirror, "train.json").write_bytes(b"tampered\n")
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False, workers=1)
    message = str(info.value)
    expected = manifest["files"][0]["sha256"]
    actual = hashlib.sha256(b"tampered\n").hexdigest()
    assert "toy/train.json" in message and expected in message and actual in message
    assert not (root / "toy" / "train.json").exists()
    assert _leftovers(root) == []


def test_missing_mirror_file_names_the_url(manifest, mirror, tmp_path):
    _mirror_file(mirror, "original/extra.jsonl").unlink()
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False)
    url = file_url(mirror.as_uri(), OTHER_REPO, OTHER_COMMIT, "data/extra/extra.jsonl")
    assert url in str(info.value)
    assert not (root / "toy" / "original" / "extra.jsonl").exists()
    assert _leftovers(root) == []


def test_path_with_space_is_encoded_and_fetched(manifest, mirror, tmp_path):
    url = file_url(DEFAULT_MIRROR, REPO, COMMIT, "Some Source/documents.json")
    assert url == f"{DEFAULT_MIRROR}/{REPO}/{COMMIT}/Some%20Source/documents.json"
    one = dict(manifest, files=[_entry("Some Source/documents.json")])
    root = tmp_path / "data"
    result = download_corpus(one, root, mirror=mirror.as_uri(), progress=False)
    assert result.downloaded == ["Some Source/documents.json"]
    written = root / "toy" / "Some Source" / "documents.json"
    assert written.read_bytes() == FILES["Some Source/documents.json"][3]


@pytest.fixture
def http_mirror(mirror):
    handler = functools.partial(QuietHandler, directory=str(mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_http_mirror_with_spaces_and_404(manifest, mirror, http_mirror, tmp_path):
    root = tmp_path / "data"
    result = download_corpus(manifest, root, mirror=http_mirror, progress=True)
    assert sorted(result.downloaded) == sorted(FILES)
    assert verify_corpus(manifest, root) == []
    _mirror_file(mirror, "train.json").unlink()
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download_corpus(manifest, tmp_path / "other", mirror=http_mirror, progress=False)
    assert f"{http_mirror}/{REPO}/{COMMIT}/data/toy/train.json" in str(info.value)


def test_unreachable_mirror_is_a_download_error(manifest, tmp_path):
    with pytest.raises(DownloadError, match="http://127.0.0.1:9/"):
        download_corpus(manifest, tmp_path, mirror="http://127.0.0.1:9", progress=False)
    assert _leftovers(tmp_path) == []


def test_verify_reports_missing_and_wrong_files(manifest, mirror, tmp_path):
    root = tmp_path / "data"
    download_corpus(manifest, root, mirror=mirror.as_uri(), progress=False)
    (root / "toy" / "train.json").unlink()
    (root / "toy" / "original" / "extra.jsonl").write_bytes(b"[9, 9, 9]\n")
    problems = {p.path: p.kind for p in verify_corpus(manifest, root)}
    assert problems == {"train.json": "missing", "original/extra.jsonl": "sha256"}


def test_bad_manifest_and_unknown_corpus(manifest):
    with pytest.raises(ManifestError, match="path"):
        Manifest.from_dict(dict(manifest, files=[dict(_entry("train.json"), path="../escape")]))
    with pytest.raises(ManifestError, match="sha256"):
        Manifest.from_dict(dict(manifest, files=[dict(_entry("train.json"), sha256="abc")]))
    with pytest.raises(CorpusNotFoundError, match="known corpora"):
        load_manifest("no-such-corpus")


def test_default_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTROLES_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    monkeypatch.delenv("EVENTROLES_DATA")
    root = default_data_root()
    assert root.name == "data" and "eventroles" in str(root)


def test_shipped_manifests_parse():
    names = available_manifests()
    assert {"muc4", "wikievents", "re3d", "casie", "geneva", "cameo_ner"} <= set(names)
    for name in names:
        loaded = load_manifest(name)
        assert loaded.folder == name and loaded.files
        assert all(f.url().startswith(f"{DEFAULT_MIRROR}/") for f in loaded.files)


@needs_shared
@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["muc4", "wikievents", "re3d", "casie", "geneva", "cameo_ner"])
def test_shipped_manifests_match_shared_data(name):
    problems = verify_corpus(name, SHARED)
    assert problems == [], [str(p) for p in problems[:5]]


def test_partial_files_of_a_killed_run_are_cleared(manifest, mirror, tmp_path):
    folder = tmp_path / "data" / "toy"
    folder.mkdir(parents=True)
    leftover = folder / ".train.json.k3j2.part"  # what a SIGKILLed download leaves beside train.json
    leftover.write_bytes(b"half")
    users = folder / ".draft.part"  # the user's own file of the same shape: it was deleted too
    users.write_bytes(b"mine")
    download_corpus(manifest, tmp_path / "data", mirror=mirror.as_uri(), progress=False)
    assert not leftover.exists() and users.read_bytes() == b"mine"
    assert _leftovers(folder) == [users.name]


def test_verify_says_a_corpus_never_downloaded_in_one_line(manifest, tmp_path):
    problems = verify_corpus(manifest, tmp_path / "data")  # was one "missing" line per file (2,000 for CASIE)
    assert len(problems) == 1 and problems[0].kind == "missing"
    assert "not downloaded" in str(problems[0]) and "all 3 files missing" in str(problems[0])


def test_a_download_that_fetched_nothing_leaves_no_empty_corpus_folder(manifest, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(DownloadError):
        download_corpus(manifest, root, mirror="http://127.0.0.1:9", progress=False)  # nothing listens on port 9
    assert not (root / "toy").exists()  # an empty folder made `data list` say "incomplete", not "not downloaded"


def test_verify_tells_a_bundled_corpus_and_a_users_folder_apart(tmp_path):
    from typer.testing import CliRunner

    from eventroles.cli.data import app as data_app

    result = CliRunner().invoke(data_app, ["verify", "sample"])
    assert result.exit_code == 0 and "sample: bundled with eventroles" in result.output  # was "no download manifest for '/…/sample'"
    result = CliRunner().invoke(data_app, ["verify", str(tmp_path)])
    assert result.exit_code != 0 and f"eventroles data stats {tmp_path}" in result.output
    result = CliRunner().invoke(data_app, ["verify", "WikiEvents", "--root", str(tmp_path)])
    assert "WikiEvents: 1 problems" in result.output  # a name in another case is still the corpus
