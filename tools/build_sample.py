#!/usr/bin/env python3
"""Build the eventroles sample corpus: ``data/sample/src/*.txt`` -> ``data/sample/{train,dev,test}.jsonl``.

Source format (one file per writer batch, e.g. ``amer.txt``; the rules are in
``data/sample/README.md``)::

    === amer-001 | region: Colombia | year: 1998 | style: wire | type: bombing
    [attacker: Rebels] set off a [weapon: car bomb] outside [target: the mayor's office] in
    [location: Puerto Alegre] on [time: Sunday].

    A second paragraph, after a blank line.

The bracket markup ``[role: words]`` may nest (``[target: a checkpoint near [location: the
airport]]``). The plain text is what remains once the markup is removed; paragraphs are
separated by one blank line (``"\\n\\n"``), lines keep their breaks and lose trailing spaces.

Every problem is reported with the source file, line and article id, and nothing is written
unless all files are clean. The split is by article and deterministic (see ``split_of``), so
re-running after a new batch lands moves no existing article to another split.

Usage::

    python tools/build_sample.py            # validate, write the jsonl files, print counts
    python tools/build_sample.py --check    # validate and compare with the shipped files, write nothing
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import io
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusError, CorpusFormatError, ReadReport
from eventroles.data.readers.jsonl import read_jsonl_file, write_jsonl
from eventroles.data.roles import ROLES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT / "data" / "sample" / "src"
DEFAULT_OUT = ROOT / "data" / "sample"
CORPUS = "sample"
SPLITS = ("train", "dev", "test")
STYLES = ("wire", "local", "ngo", "broadcast", "feature")
HEADER_KEYS = ("region", "year", "style", "type")
NEGATIVE_TYPE = "none"
MIN_WORDS, MAX_WORDS = 60, 250

HEADER_RE = re.compile(r"^===(?:\s+(?P<rest>.*))?$")
ID_RE = re.compile(r"^(?P<batch>[a-z][a-z0-9_]*)-(?P<number>\d{3,})$")
OPEN_RE = re.compile(r"\[(?P<role>[^\[\]:\s]+):(?P<space> ?)")
WORD_CHAR_RE = re.compile(r"\w")
# Word counting as in ``eventroles.data.words``, minus punctuation.
COUNT_WORD_RE = re.compile(r"\w+(?:[-'’.]\w+)*")
PRONOUNS = frozenset(
    "i me my we us our you your he him his she her hers it its they them their theirs "
    "this that these those who whom which someone somebody".split()
)
CLOSERS = {")": "(", '"': '"', "”": "“", "’": "‘"}
OPENERS = {"(": ")", '"': '"', "“": "”", "‘": "’"}


class SampleSourceError(CorpusError):
    """One or more problems in the source files; ``errors`` holds each, with file, line and id."""

    def __init__(self, errors: list[CorpusFormatError]) -> None:
        self.errors = list(errors)
        lines = [str(error) for error in self.errors]
        super().__init__(f"{len(lines)} problem(s) in the sample sources:\n  " + "\n  ".join(lines))


@dataclass
class Article:
    id: str
    text: str
    spans: list[Span]
    meta: dict[str, object]
    path: str
    line: int  # line of the header
    warnings: list[str] = field(default_factory=list)

    @property
    def is_negative(self) -> bool:
        return self.meta.get("type") == NEGATIVE_TYPE

    def to_document(self) -> Document:
        return Document(self.id, self.text, sorted(self.spans), frozenset(ROLES), CORPUS, dict(self.meta))


def split_of(doc_id: str) -> str:
    """The split of an article: sha1 of its id, as an integer, modulo 100: <70 train, <85 dev, else test."""
    bucket = int(hashlib.sha1(doc_id.encode("utf-8")).hexdigest(), 16) % 100
    if bucket < 70:
        return "train"
    if bucket < 85:
        return "dev"
    return "test"


# --------------------------------------------------------------------------------------------
# Markup


def _is_word_char(ch: str) -> bool:
    return bool(WORD_CHAR_RE.match(ch))


def _edge_problem(span_text: str) -> str | None:
    """Why a span's first or last character is not allowed there, or None."""
    if span_text != span_text.strip():
        return "leading or trailing whitespace"
    first, last = span_text[0], span_text[-1]
    if not _is_word_char(first):
        if not (first in OPENERS and OPENERS[first] in span_text[1:]):
            return f"starts with punctuation {first!r}"
    if not _is_word_char(last):
        allowed = last in CLOSERS and CLOSERS[last] in span_text[:-1]
        # An initial or an abbreviation's final period: "Ahmed K.", "U.S.", "6 p.m."
        if last == "." and len(span_text) >= 2 and span_text[-2].isalpha():
            allowed = len(span_text) == 2 or not _is_word_char(span_text[-3])
        if not allowed:
            return f"ends with punctuation {last!r} (leave punctuation outside the brackets)"
    return None


def parse_markup(
    body: str,
    *,
    path: str | Path = "<string>",
    doc_id: str | None = None,
    first_line: int = 1,
    line_map: list[int] | None = None,
    warnings: list[str] | None = None,
) -> tuple[str, list[Span], list[int]]:
    """Remove the ``[role: words]`` markup from ``body``; return the plain text and its spans.

    ``first_line`` is the source line of ``body``'s first line; or ``line_map[k]`` gives the
    source line of body line ``k`` (used in errors only). Doubtful but legal markup (a span
    that is only a pronoun) is appended to ``warnings`` when it is given.
    Returns ``(text, spans, span_lines)``; ``span_lines[i]`` is the source line where span i
    opens. Raises ``CorpusFormatError`` on the first markup problem.
    """
    newlines = [i for i, ch in enumerate(body) if ch == "\n"]

    def line_at(index: int) -> int:
        k = bisect.bisect_left(newlines, index)
        return line_map[k] if line_map is not None else first_line + k

    def fail(message: str, index: int) -> CorpusFormatError:
        return CorpusFormatError(path, message, line=line_at(index), doc_id=doc_id)

    out: list[str] = []
    length = 0
    stack: list[tuple[str, int, int]] = []  # (role, start in plain text, index in body)
    found: list[tuple[Span, int]] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "[":
            match = OPEN_RE.match(body, i)
            if match is None:
                raise fail(
                    "'[' that does not open '[role: words]' (square brackets are markup only; "
                    "do not use them in the prose)",
                    i,
                )
            role = match.group("role")
            if role not in ROLES:
                raise fail(f"unknown role {role!r} (roles: {', '.join(ROLES)})", i)
            if not match.group("space"):
                raise fail(f"write one space after '[{role}:'", i)
            stack.append((role, length, i))
            i = match.end()
            continue
        if ch == "]":
            if not stack:
                raise fail("']' without a matching '[role: '", i)
            role, start, opened = stack.pop()
            if start == length:
                raise fail(f"empty {role} span", opened)
            found.append((Span(start, length, role), opened))
            i += 1
            continue
        out.append(ch)
        length += 1
        i += 1
    if stack:
        role, _, opened = stack[-1]
        raise fail(f"'[{role}: ' is never closed (unbalanced brackets)", opened)

    text = "".join(out)
    for span, opened in found:
        span_text = text[span.start : span.end]
        where = f"{span.role} span {span_text!r}"
        if not span_text.strip():
            raise fail(f"empty {where}", opened)
        if span_text.lower() in PRONOUNS and warnings is not None:
            warnings.append(f"{fail(f'{where} is a pronoun; annotate only non-pronoun mentions', opened)}")
        problem = _edge_problem(span_text)
        if problem:
            raise fail(f"{where}: {problem}", opened)
        if span.start > 0 and _is_word_char(text[span.start - 1]) and _is_word_char(text[span.start]):
            raise fail(f"{where} starts inside a word", opened)
        if span.end < len(text) and _is_word_char(text[span.end - 1]) and _is_word_char(text[span.end]):
            raise fail(f"{where} ends inside a word", opened)
        if "\n\n" in span_text:
            raise fail(f"{where} crosses a paragraph break", opened)
    # One BIO sequence per role: two spans of the same role may not overlap or repeat.
    by_role = sorted(found, key=lambda item: (item[0].role, item[0].start, -item[0].end))
    for (a, _), (b, opened_b) in zip(by_role, by_role[1:]):
        if a.role == b.role and b.start < a.end:
            raise fail(
                f"{b.role} span {text[b.start:b.end]!r} overlaps {text[a.start:a.end]!r}, "
                f"another {a.role} span (same-role spans may not nest or overlap)",
                opened_b,
            )
    found.sort(key=lambda item: item[0])
    return text, [span for span, _ in found], [line_at(opened) for _, opened in found]


# --------------------------------------------------------------------------------------------
# Source files


def _parse_header(rest: str, *, path: str, line: int, batch: str) -> tuple[str, dict[str, object]]:
    parts = [part.strip() for part in rest.split("|")]
    doc_id = parts[0]
    match = ID_RE.match(doc_id)
    if match is None:
        raise CorpusFormatError(path, f"bad article id {doc_id!r}: expected '<batch>-NNN'", line=line)
    if match.group("batch") != batch:
        raise CorpusFormatError(
            path, f"article id {doc_id!r} does not start with this file's batch {batch + '-'!r}", line=line, doc_id=doc_id
        )
    meta: dict[str, object] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise CorpusFormatError(path, f"header field {part!r} is not 'key: value'", line=line, doc_id=doc_id)
        if key not in HEADER_KEYS:
            raise CorpusFormatError(
                path, f"unknown header field {key!r} (fields: {', '.join(HEADER_KEYS)})", line=line, doc_id=doc_id
            )
        if key in meta:
            raise CorpusFormatError(path, f"header field {key!r} given twice", line=line, doc_id=doc_id)
        if not value:
            raise CorpusFormatError(path, "empty value", line=line, doc_id=doc_id, field=key)
        meta[key] = value
    missing = [key for key in HEADER_KEYS if key not in meta]
    if missing:
        raise CorpusFormatError(path, f"header lacks {', '.join(missing)}", line=line, doc_id=doc_id)
    year = str(meta["year"])
    if not re.fullmatch(r"(19|20)\d\d", year):
        raise CorpusFormatError(path, f"year {year!r} is not a year like 1987", line=line, doc_id=doc_id, field="year")
    meta["year"] = int(year)
    if meta["style"] not in STYLES:
        raise CorpusFormatError(
            path, f"style {meta['style']!r} is not one of {', '.join(STYLES)}", line=line, doc_id=doc_id, field="style"
        )
    if meta["type"] != str(meta["type"]).lower():
        raise CorpusFormatError(path, "write the type in lower case", line=line, doc_id=doc_id, field="type")
    return doc_id, {key: meta[key] for key in HEADER_KEYS}


def _join_body(numbered: list[tuple[int, str]]) -> tuple[str, list[int]]:
    """Join ``(source line, text)`` pairs into a body; return it and the source line of each body line."""
    kept: list[tuple[int, str]] = []
    for number, text in numbered:
        text = text.rstrip()
        if not text and (not kept or not kept[-1][1]):
            continue  # leading blank lines, or a second blank line in a row
        kept.append((number, text))
    while kept and not kept[-1][1]:
        kept.pop()
    return "\n".join(text for _, text in kept), [number for number, _ in kept]


def _parse_article(
    doc_id: str, meta: dict[str, object], numbered: list[tuple[int, str]], *, path: str, header_line: int
) -> Article:
    body, source_lines = _join_body(numbered)
    if not body:
        raise CorpusFormatError(path, "article has no text", line=header_line, doc_id=doc_id)
    warnings: list[str] = []
    text, spans, _ = parse_markup(body, path=path, doc_id=doc_id, line_map=source_lines, warnings=warnings)
    article = Article(doc_id, text, spans, meta, path, header_line, warnings)
    if article.is_negative and spans:
        raise CorpusFormatError(
            path,
            f"a negative article (type: {NEGATIVE_TYPE}) has {len(spans)} span(s); negatives carry no spans",
            line=header_line,
            doc_id=doc_id,
        )
    if not article.is_negative and not spans:
        raise CorpusFormatError(
            path,
            f"an attack article (type: {meta['type']}) has no spans; annotate it or mark it type: {NEGATIVE_TYPE}",
            line=header_line,
            doc_id=doc_id,
        )
    words = len(COUNT_WORD_RE.findall(text))
    if not MIN_WORDS <= words <= MAX_WORDS:
        article.warnings.append(
            f"{path}, line {header_line}, document {doc_id!r}: {words} words (the rule is {MIN_WORDS}-{MAX_WORDS})"
        )
    return article


def parse_source(source: str, path: str | Path = "<string>", *, batch: str | None = None) -> list[Article]:
    """Parse one batch file's text. Raises ``SampleSourceError`` listing every problem found.

    ``batch`` (default: the file name's stem) is the prefix every id must carry.
    """
    path = str(path)
    batch = batch if batch is not None else Path(path).stem
    errors: list[CorpusFormatError] = []
    articles: list[Article] = []
    seen: dict[str, int] = {}
    current: tuple[str, dict[str, object], int] | None = None
    numbered: list[tuple[int, str]] = []
    skipping = False  # after a bad header, skip to the next one

    def finish() -> None:
        if current is None:
            return
        doc_id, meta, header_line = current
        try:
            articles.append(_parse_article(doc_id, meta, numbered, path=path, header_line=header_line))
        except CorpusFormatError as error:
            errors.append(error)

    lines = source.lstrip("\ufeff").split("\n")
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip("\r")
        if raw.startswith("==="):
            finish()
            current, numbered, skipping = None, [], False
            match = HEADER_RE.match(raw.rstrip())
            if match is None or not match.group("rest"):
                errors.append(CorpusFormatError(path, "header line is not '=== <id> | region: ... | ...'", line=number))
                skipping = True
                continue
            try:
                doc_id, meta = _parse_header(match.group("rest"), path=path, line=number, batch=batch)
            except CorpusFormatError as error:
                errors.append(error)
                skipping = True
                continue
            if doc_id in seen:
                errors.append(
                    CorpusFormatError(
                        path, f"duplicate article id (first used on line {seen[doc_id]})", line=number, doc_id=doc_id
                    )
                )
                skipping = True
                continue
            seen[doc_id] = number
            current = (doc_id, meta, number)
            continue
        if skipping:
            continue
        if current is None:
            if raw.strip():
                errors.append(CorpusFormatError(path, "text before the first '===' header", line=number))
                skipping = True
            continue
        numbered.append((number, raw))
    finish()
    if not articles and not errors:
        errors.append(CorpusFormatError(path, "no articles (each starts with an '=== <id> | ...' line)"))
    if errors:
        raise SampleSourceError(errors)
    return articles


def load_sources(src: Path) -> list[Article]:
    """Parse every ``src/*.txt``; ids must be unique across files. Raises ``SampleSourceError``."""
    files = sorted(src.glob("*.txt"))
    if not files:
        raise SampleSourceError([CorpusFormatError(src, "no *.txt source files")])
    errors: list[CorpusFormatError] = []
    articles: list[Article] = []
    first: dict[str, Article] = {}
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            errors.append(CorpusFormatError(file, f"not valid UTF-8 (byte {error.start})"))
            continue
        try:
            parsed = parse_source(text, _display(file))
        except SampleSourceError as error:
            errors.extend(error.errors)
            continue
        for article in parsed:
            if article.id in first:
                other = first[article.id]
                errors.append(
                    CorpusFormatError(
                        article.path,
                        f"duplicate article id (also {other.path}, line {other.line})",
                        line=article.line,
                        doc_id=article.id,
                    )
                )
                continue
            first[article.id] = article
            articles.append(article)
    if errors:
        raise SampleSourceError(errors)
    return articles


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Splits, output, counts


def split_documents(articles: list[Article]) -> dict[str, list[Document]]:
    splits: dict[str, list[Document]] = {name: [] for name in SPLITS}
    for article in sorted(articles, key=lambda a: a.id):
        splits[split_of(article.id)].append(article.to_document())
    return splits


def render(docs: list[Document]) -> str:
    buffer = io.StringIO()
    write_jsonl(docs, buffer)
    return buffer.getvalue()


def counts(splits: dict[str, list[Document]]) -> str:
    lines = []
    total_docs = sum(len(docs) for docs in splits.values())
    lines.append(f"{'split':<8}{'articles':>9}{'negatives':>10}" + "".join(f"{r:>10}" for r in ROLES) + f"{'spans':>8}")
    totals: Counter[str] = Counter()
    negatives_total = 0
    for name in SPLITS:
        docs = splits[name]
        roles = Counter(span.role for doc in docs for span in doc.spans)
        negatives = sum(1 for doc in docs if not doc.spans)
        totals.update(roles)
        negatives_total += negatives
        lines.append(
            f"{name:<8}{len(docs):>9}{negatives:>10}"
            + "".join(f"{roles[r]:>10}" for r in ROLES)
            + f"{sum(roles.values()):>8}"
        )
    lines.append(
        f"{'total':<8}{total_docs:>9}{negatives_total:>10}"
        + "".join(f"{totals[r]:>10}" for r in ROLES)
        + f"{sum(totals.values()):>8}"
    )
    return "\n".join(lines)


def counts_markdown(splits: dict[str, list[Document]]) -> str:
    """The counts as the Markdown table of the data card."""
    rows = ["| split | articles | negatives | " + " | ".join(ROLES) + " | spans |"]
    rows.append("| --- | ---: | ---: | " + " | ".join("---:" for _ in ROLES) + " | ---: |")
    for name in (*SPLITS, "total"):
        docs = [d for n in SPLITS for d in splits[n]] if name == "total" else splits[name]
        roles = Counter(span.role for doc in docs for span in doc.spans)
        negatives = sum(1 for doc in docs if not doc.spans)
        label = f"**{name}**" if name == "total" else name
        rows.append(
            f"| {label} | {len(docs)} | {negatives} | "
            + " | ".join(str(roles[r]) for r in ROLES)
            + f" | {sum(roles.values())} |"
        )
    return "\n".join(rows)


def update_card(card: Path, splits: dict[str, list[Document]], batches: Counter[str]) -> bool:
    """Rewrite the counts block of the data card (between the ``counts:start``/``end`` markers)."""
    if not card.exists():
        return False
    text = card.read_text(encoding="utf-8")
    start, end = "<!-- counts:start -->", "<!-- counts:end -->"
    if start not in text or end not in text:
        return False
    per_batch = ", ".join(f"`{b}` {n}" for b, n in sorted(batches.items()))
    block = f"{start}\n{counts_markdown(splits)}\n\nArticles per batch: {per_batch}.\n{end}"
    new = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    if new != text:
        card.write_text(new, encoding="utf-8")
    return True


def verify(out: Path) -> None:
    """Read every written file back with the project reader; any repair is an error."""
    for name in SPLITS:
        path = out / f"{name}.jsonl"
        if not path.exists():
            continue
        report = ReadReport()
        read_jsonl_file(path, report, corpus=CORPUS)
        if report:
            raise CorpusError(f"{path}: the reader repaired spans: {report.as_dict()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of <batch>.txt sources")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for train/dev/test.jsonl")
    parser.add_argument(
        "--check", action="store_true", help="validate and check the jsonl files are up to date; write nothing"
    )
    parser.add_argument(
        "--no-card", action="store_true", help="do not update the counts table in OUT/README.md"
    )
    args = parser.parse_args(argv)
    try:
        articles = load_sources(args.src)
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for article in articles:
        for warning in article.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    splits = split_documents(articles)
    rendered = {name: render(docs) for name, docs in splits.items()}
    if args.check:
        stale = [
            name
            for name, content in rendered.items()
            if not (args.out / f"{name}.jsonl").exists()
            or (args.out / f"{name}.jsonl").read_text(encoding="utf-8") != content
        ]
        if stale:
            print(f"error: out of date: {', '.join(s + '.jsonl' for s in stale)}; run tools/build_sample.py", file=sys.stderr)
            return 1
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, content in rendered.items():
            if not content:
                # The reader rejects empty files; keep none rather than an unreadable one.
                (args.out / f"{name}.jsonl").unlink(missing_ok=True)
                print(f"warning: split {name} is empty; no {name}.jsonl written", file=sys.stderr)
                continue
            with (args.out / f"{name}.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
                handle.write(content)
    try:
        verify(args.out)
    except CorpusError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    batches = Counter(a.id.rsplit("-", 1)[0] for a in articles)
    print(f"{len(articles)} articles from {len(batches)} batch(es): " + ", ".join(f"{b} {n}" for b, n in sorted(batches.items())))
    print(counts(splits))
    print("read back: no repairs" + (" (check only; nothing written)" if args.check else f"; wrote {args.out}"))
    if not args.check and not args.no_card and update_card(args.out / "README.md", splits, batches):
        print(f"updated the counts in {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
