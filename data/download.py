"""Fetch the public corpora from their upstream repositories, checked against pinned manifests.

Each corpus folder under the data root (``<root>/muc4``, ``<root>/re3d``, ...) is described by a
manifest shipped in ``eventroles/data/manifests/<folder>.json``: the upstream GitHub repository
and commit, and for every file its path in the corpus folder, its path upstream, its size and
its SHA-256. Downloading a file means fetching ``{mirror}/{repo}/{commit}/{upstream}``, writing
it to a temporary file next to its destination, checking the hash, and only then renaming it
into place, so a corpus folder never holds a partial or unverified file. Every failure becomes
a ``DownloadError`` that names the file and the URL (the CLI prints it without a traceback).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from glob import escape as glob_escape
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .problems import CorpusError, CorpusNotFoundError

DEFAULT_MIRROR = "https://raw.githubusercontent.com"
DATA_ENV = "EVENTROLES_DATA"
MANIFEST_DIR = "manifests"
CHUNK = 1 << 16
TIMEOUT_S = 60.0
DEFAULT_WORKERS = 8
USER_AGENT = "eventroles-data-download"


class DownloadError(CorpusError):
    """A file could not be fetched, or what was fetched is not what the manifest pins."""


class ManifestError(CorpusError):
    """A manifest is malformed; says which manifest and which field."""


@dataclass(frozen=True)
class ManifestFile:
    """One file of a corpus: where it goes locally, where it comes from, what it must hash to."""

    path: str
    upstream: str
    sha256: str
    size: int
    repo: str
    commit: str
    licence: str | None = None

    def url(self, mirror: str = DEFAULT_MIRROR) -> str:
        """This file's URL on ``mirror`` (laid out as ``<mirror>/<repo>/<commit>/<upstream>``)."""
        return file_url(mirror, self.repo, self.commit, self.upstream)


@dataclass(frozen=True)
class Manifest:
    """A corpus folder pinned to upstream files; ``repo``/``commit`` are the per-corpus defaults."""

    folder: str
    repo: str
    commit: str
    licence: str
    files: tuple[ManifestFile, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<manifest>") -> Manifest:
        """Parse and validate a manifest dict; per-file ``repo``/``commit`` override the default."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"{source}: a manifest must be a JSON object")
        folder = _text(data, "folder", source)
        _check_relative(folder, source, "folder")
        repo = _text(data, "repo", source)
        commit = _text(data, "commit", source)
        licence = _text(data, "licence", source)
        raw_files = data.get("files")
        if not isinstance(raw_files, list) or not raw_files:
            raise ManifestError(f"{source}: field 'files' must be a non-empty list")
        files = tuple(
            _parse_file(item, f"{source}, files[{i}]", repo, commit)
            for i, item in enumerate(raw_files)
        )
        seen: set[str] = set()
        for f in files:
            if f.path in seen:
                raise ManifestError(f"{source}: path {f.path!r} is listed twice")
            seen.add(f.path)
        return cls(folder, repo, commit, licence, files)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; per-file ``repo``/``commit``/``licence`` only where they differ."""
        files = []
        for f in self.files:
            entry: dict[str, Any] = {"path": f.path, "upstream": f.upstream}
            if f.repo != self.repo:
                entry["repo"] = f.repo
            if f.commit != self.commit:
                entry["commit"] = f.commit
            if f.licence is not None:
                entry["licence"] = f.licence
            entry.update(sha256=f.sha256, size=f.size)
            files.append(entry)
        return {
            "folder": self.folder,
            "repo": self.repo,
            "commit": self.commit,
            "licence": self.licence,
            "files": files,
        }

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class DownloadResult:
    """What one ``download_corpus`` call did."""

    folder: str
    path: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_downloaded: int = 0


@dataclass(frozen=True)
class FileProblem:
    """A file of a corpus folder that does not match its manifest."""

    path: str
    kind: Literal["missing", "size", "sha256"]
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


ManifestLike = Manifest | Mapping[str, Any] | str


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only read
    it by setting it, which other threads would see for a moment). Files written for others to
    read (a shared data root, a model folder) get their modes from it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def default_data_root() -> Path:
    """``$EVENTROLES_DATA`` when set, else ``<user cache dir>/eventroles/data``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("eventroles")) / "data"


def available_manifests() -> list[str]:
    """Names (= folder names) of the corpora with a shipped manifest, sorted."""
    folder = resources.files(__package__).joinpath(MANIFEST_DIR)
    if not folder.is_dir():
        return []
    return sorted(
        item.name[: -len(".json")]
        for item in folder.iterdir()
        if item.name.endswith(".json") and item.is_file()
    )


def load_manifest(name: str) -> Manifest:
    """The shipped manifest of corpus ``name``; ``CorpusNotFoundError`` lists the known names."""
    names = available_manifests()
    key = name.strip().lower()
    if key not in names:
        raise CorpusNotFoundError(
            f"no download manifest for corpus {name!r}; known corpora: {', '.join(names) or 'none'}"
        )
    item = resources.files(__package__).joinpath(MANIFEST_DIR, f"{key}.json")
    source = f"manifest {key}.json"
    try:
        data = json.loads(item.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{source}: invalid JSON: {exc}") from None
    return Manifest.from_dict(data, source)


def as_manifest(spec: ManifestLike) -> Manifest:
    """Accept a corpus name, a manifest dict or a ``Manifest``."""
    if isinstance(spec, Manifest):
        return spec
    if isinstance(spec, str):
        return load_manifest(spec)
    return Manifest.from_dict(spec)


def file_url(mirror: str, repo: str, commit: str, upstream: str) -> str:
    """``{mirror}/{repo}/{commit}/{upstream}`` with each part percent-encoded.

    ``mirror`` may be an http(s) or file URL, or a plain local folder path.
    """
    base = _mirror_base(mirror)
    tail = "/".join(urllib.parse.quote(part, safe="/") for part in (repo, commit, upstream))
    return f"{base}/{tail}"


def download_corpus(
    name_or_folder: ManifestLike,
    data_root: Path,
    mirror: str = DEFAULT_MIRROR,
    force: bool = False,
    progress: bool = True,
    workers: int = DEFAULT_WORKERS,
) -> DownloadResult:
    """Download every file of a corpus into ``data_root/<folder>``, verified and atomically.

    Files already present with the right hash are skipped unless ``force``. Up to ``workers``
    files are fetched at once (CASIE has 2,000 small files). Raises ``DownloadError`` for the
    first file that cannot be fetched or does not match its hash; files finished before it stay
    in place (they are verified), nothing partial is left.
    """
    manifest = as_manifest(name_or_folder)
    corpus_dir = Path(data_root) / manifest.folder
    result = DownloadResult(manifest.folder, corpus_dir)
    if corpus_dir.is_dir():  # a run killed outright (SIGKILL) leaves its partial files: ours by name,
        for entry in manifest.files:  # ".<manifest file>.<random>.part" beside it; a user's other .part files stay
            target = corpus_dir / entry.path
            if target.parent.is_dir():
                for leftover in target.parent.glob(f".{glob_escape(target.name)}.*.part"):
                    leftover.unlink(missing_ok=True)
    cancelled = threading.Event()
    mode = 0o666 & ~current_umask()  # mkstemp makes files 0600: a shared data root must stay readable
    existed = corpus_dir.exists()
    with _progress_bar(manifest, progress) as bar:
        pending = []
        for entry in manifest.files:
            if not force and _matches(corpus_dir / entry.path, entry):
                result.skipped.append(entry.path)
                bar.update(1)
            else:
                pending.append(entry)

        def fetch(entry: ManifestFile) -> ManifestFile:
            _fetch(entry, entry.url(mirror), corpus_dir / entry.path, manifest.folder, cancelled, mode)
            return entry

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(fetch, entry) for entry in pending]
            try:
                for future in as_completed(futures):
                    future.result()
                    bar.update(1)
            except BaseException:  # Ctrl-C or a failed file: the other threads stop at their next chunk
                cancelled.set()
                pool.shutdown(wait=True, cancel_futures=True)
                if not existed:  # folders this run made and left empty: "not downloaded", not "incomplete"
                    _remove_empty_folders(corpus_dir)
                raise
    done = {f.path for f in pending}
    result.downloaded = [f.path for f in manifest.files if f.path in done]
    result.bytes_downloaded = sum(f.size for f in pending)
    return result


def _remove_empty_folders(folder: Path) -> None:
    """``folder`` and the folders under it that hold no file, deepest first."""
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def verify_corpus(folder_name: ManifestLike, data_root: Path) -> list[FileProblem]:
    """Files of the corpus that are missing or differ from the manifest (empty list: all good)."""
    manifest = as_manifest(folder_name)
    corpus_dir = Path(data_root) / manifest.folder
    problems: list[FileProblem] = []
    if not corpus_dir.is_dir():  # one line, not one "missing" per file (CASIE has 2,000)
        return [FileProblem(f"{manifest.folder}/", "missing", f"all {len(manifest.files)} files missing: not downloaded "
                            f"(no folder {corpus_dir})")]
    for entry in manifest.files:
        target = corpus_dir / entry.path
        if not target.is_file():
            problems.append(FileProblem(entry.path, "missing", f"missing (expected at {target})"))
            continue
        size = target.stat().st_size
        if size != entry.size:
            problems.append(
                FileProblem(entry.path, "size", f"size {size} bytes, expected {entry.size}")
            )
            continue
        actual = sha256_file(target)
        if actual != entry.sha256:
            problems.append(
                FileProblem(entry.path, "sha256", f"sha256 {actual}, expected {entry.sha256}")
            )
    return problems


def missing_files(folder_name: ManifestLike, data_root: Path) -> list[str]:
    """Manifest files absent from the corpus folder or of the wrong size: a quick check (no
    hashing) that a reader is not about to read half a download as the whole corpus."""
    manifest = as_manifest(folder_name)
    corpus_dir = Path(data_root) / manifest.folder
    out = []
    for entry in manifest.files:
        target = corpus_dir / entry.path
        if not target.is_file() or target.stat().st_size != entry.size:
            out.append(entry.path)
    return out


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- internals ---------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{source}: field {key!r} must be a non-empty string")
    return value


def _check_relative(path: str, source: str, key: str) -> None:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path or path != pure.as_posix():
        raise ManifestError(f"{source}: field {key!r} must be a plain relative path, got {path!r}")


def _parse_file(item: Any, source: str, repo: str, commit: str) -> ManifestFile:
    if not isinstance(item, Mapping):
        raise ManifestError(f"{source}: each file must be a JSON object")
    path = _text(item, "path", source)
    _check_relative(path, source, "path")
    upstream = _text(item, "upstream", source)
    _check_relative(upstream, source, "upstream")
    sha = _text(item, "sha256", source).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ManifestError(f"{source}: field 'sha256' must be 64 hex digits")
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"{source}: field 'size' must be a non-negative integer")
    licence = item.get("licence")
    if licence is not None and not isinstance(licence, str):
        raise ManifestError(f"{source}: field 'licence' must be a string")
    return ManifestFile(
        path=path,
        upstream=upstream,
        sha256=sha,
        size=size,
        repo=_text(item, "repo", source) if "repo" in item else repo,
        commit=_text(item, "commit", source) if "commit" in item else commit,
        licence=licence,
    )


def _mirror_base(mirror: str) -> str:
    scheme = urllib.parse.urlsplit(mirror).scheme.lower()
    if scheme in ("http", "https", "file"):
        return mirror.rstrip("/")
    # A plain folder (a local copy laid out like the mirror); one-letter "schemes" are drives.
    return Path(mirror).expanduser().resolve().as_uri().rstrip("/")


def _progress_bar(manifest: Manifest, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=len(manifest.files), desc=manifest.folder, unit="file", disable=not enabled)


def _matches(target: Path, entry: ManifestFile) -> bool:
    return (
        target.is_file()
        and target.stat().st_size == entry.size
        and sha256_file(target) == entry.sha256
    )


def _fetch(
    entry: ManifestFile, url: str, target: Path, folder: str, cancelled: threading.Event | None = None, mode: int = 0o644
) -> None:
    """Stream ``url`` into a temporary file beside ``target``, verify it, then rename it."""
    name = f"{folder}/{entry.path}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise DownloadError(f"cannot write {target}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    os.chmod(tmp, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _stream(url, out, name, cancelled)
        actual = digest.hexdigest()
        if actual != entry.sha256 or size != entry.size:
            raise DownloadError(
                f"checksum mismatch for {name} (from {url}): expected sha256 {entry.sha256} "
                f"({entry.size} bytes), got {actual} ({size} bytes)"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stream(url: str, out: Any, name: str, cancelled: threading.Event | None = None) -> tuple[Any, int]:
    digest = hashlib.sha256()
    size = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                if cancelled is not None and cancelled.is_set():
                    raise DownloadError(f"download of {name} cancelled")
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
        raise DownloadError(f"cannot download {name} from {url}: {reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot download {name} from {url}: {_reason(exc.reason)}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DownloadError(f"cannot download {name} from {url}: {_reason(exc)}") from None
    return digest, size


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason)
    return text or type(reason).__name__
