"""Silver location and time spans for MUC-4, recovered from the NIST answer keys.

Why: the processed MUC-4 files annotate only perpetrators, targets and weapons, but the NIST
templates (``muc34.tar.gz``) also give each incident's ``INCIDENT: DATE`` and
``INCIDENT: LOCATION`` as normalised values (``30 DEC 89``, ``EL SALVADOR: SAN MIGUEL
(DEPARTMENT)``). Where the (lower-cased) text writes such a value, we mark it as a silver span
(role ``location``/``time``, label ``SilverLocation``/``SilverTime``). A wrong silver span teaches
the model wrong things, so recovery is conservative (precision over recall):

Location. A value is split into alternatives (``/``), levels (``:``, country first) and places
(``A - B``); types in parentheses are dropped. Each place name is searched verbatim (whole
words). When the most specific place of an alternative is written, all its occurrences are
marked (as MUC-4 taggers mark every occurrence of a filler), unless it is a country; a country
or a wider level is marked only in an attack context (a locative preposition before it and an
attack word within 8 words in the same sentence) or right after a marked narrower place
("zacamil, san salvador"), since "aid to el salvador" is no attack location. The value counts
as recovered when the most specific place of one alternative is marked.

Time. Only exact dates (``DD MMM YY``, one per alternative) are looked for; ranges, "on or
before" dates (``- DD MMM YY``: a weekday or the dateline was the only clue) and unknown dates
(``-``) are vague and never recovered. A date is marked where the text writes it ("30
december", "december 30, 1989", "30 dec 89"), and where a relative expression ("yesterday",
"last night", "this morning", "on monday", "a few hours ago"...) resolves to it from the
article's dateline (taken from the raw NIST text, since the processed text drops the
dateline) -- relative expressions only in an attack context (an attack word within 8 words in
the sentence, no reporting word such as "said" right next to them: "police reported today").

Roles rule. A document whose key has no incident (template ``*``) annotates location and time
as absent, like its absent perpetrators and targets: a place it names is not an attack
location. A document with incidents keeps a role only when every distinct value of that slot
was recovered; otherwise the role is removed from ``doc.roles`` together with its silver spans
for that document, so that the loss never trains "not a location" on a location that is
written differently from the key. A document missing from the keys gets neither role.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..document import Span
from ..problems import CorpusFormatError, ReadReport

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME_LABEL, LOCATION_LABEL = "SilverTime", "SilverLocation"

SLOT_RE = re.compile(r"^(\d+)\.\s+([A-Z][A-Z ]*?:\s?[A-Z][A-Z ]*?)(?:\s{2,}(.*?))?\s*$")
DOCID_LINE_RE = re.compile(r"^([A-Z]+\d*-MUC\d-\d{4})\b.*$", re.MULTILINE)
TEXT_MEMBER_RE = re.compile(r"(?:^|/)(?:dev|tst\d)-muc\d[^/]*$")
KEY_DATE_RE = re.compile(
    r"(\d{1,2})\s+([A-Z]{3})[A-Z]*\.?(?:\s+(\d{2}))?$|([A-Z]{3})[A-Z]*\s+(\d{1,2})$", re.IGNORECASE
)
DATELINE_RE = re.compile(r",\s*(?:(\d{1,2})\s+([A-Z]{3})[A-Z]*\.?|([A-Z]{3})[A-Z]*\.?\s+(\d{1,2}))"
                         r"(?:\s+(\d{2}))?\s*(?:[(\[]|$)")
TYPE_PAREN_RE = re.compile(r"(?<=[A-Z0-9.'])\s+\([^():]*\)")
SENTENCE_END_RE = re.compile(r"[.!?]\s+|\s{3,}")
WORD_RE = re.compile(r"\w+")
YEAR_AFTER_RE = re.compile(r",?\s+(19\d\d|\d\d)(?![\w-])")

TRIGGER_RE = re.compile(
    r"(?<!\w)(?:kill\w*|murder\w*|assassinat\w*|attack\w*|explo\w*|bomb\w*|blew|blown|kidnap\w*|"
    r"abduct\w*|shot|shoot\w*|fired|wound\w*|injur\w*|ambush\w*|dynamit\w*|burn\w*|destroy\w*|"
    r"damag\w*|massacr\w*|harass\w*|raid\w*|took\s+place|occurred|happened|perpetrat\w*|"
    r"carried\s+out|set\s+off|clash\w*|fighting|offensive|detonat\w*|died|torched|hijack\w*|"
    r"storm\w*|overpower\w*|sabotag\w*|seized|took\s+over|downed|machinegunned)(?!\w)"
)
REPORTING_RE = re.compile(
    r"(?:said|says|say|reported|reports|report|announced|stated|told|denied|confirmed|disclosed|"
    r"released|issued|condemned|condemns|added|learned|indicated|revealed|noted|declared|charged|"
    r"accused|asserted|explained|published|broadcast|communique|asked|urged|met|began|news|press|"
    r"statement|visited|arrested|delivered|claimed|blamed|protested|repudiated|demanded|called|"
    r"scheduled|conference)"
)
LOCATIVE_RE = re.compile(
    r"(?:in|at|near|outside|inside|throughout|across)\s+(?:the\s+)?"
    r"(?:(?:north|south|east|west|northeast|northwest|southeast|southwest)(?:ern)?\s+|central\s+)?$"
)
# Relative expressions: (offsets in days from the dateline that they may mean, pattern).
RELATIVE = (
    ((-2,), r"(?:the\s+)?day\s+before\s+yesterday"),
    ((-1,), r"(?:early\s+|late\s+)?yesterday(?:\s+(?:morning|afternoon|evening|night))?"),
    ((-1, 0), r"(?:late\s+)?last\s+night"),
    ((0,), r"(?:early\s+|late\s+)?(?:today|this\s+(?:morning|afternoon|evening)|tonight)"),
    ((0,), r"(?:just\s+)?a\s+few\s+(?:minutes|hours)\s+ago"),
)


@dataclass(frozen=True)
class KeyDoc:
    """The answer key of one message: its incident templates' date and location values."""

    dates: tuple[str, ...]  # one per incident template, in key order
    locations: tuple[str, ...]
    anchor: tuple[int | None, int, int] | None  # dateline (year, month, day); year may be unknown

    @property
    def has_incident(self) -> bool:
        return bool(self.dates)


@dataclass
class Silver:
    spans: list[Span] = field(default_factory=list)
    unrecovered: set[str] = field(default_factory=set)  # roles to remove from doc.roles


# ---------------------------------------------------------------- the tar: keys and datelines


def load_keys(path: Path) -> dict[str, KeyDoc]:
    """Parsed answer keys by message id (``TST3-MUC4-0001``), cached per process and file."""
    stat = path.stat()
    return _load_keys(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load_keys(path: str, _mtime: int, _size: int) -> dict[str, KeyDoc]:
    templates: dict[str, list[dict[str, str]]] = {}
    anchors: dict[str, tuple[int | None, int, int] | None] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if not member.isfile() or name.startswith("._") or "/CORPORA/" not in f"/{member.name}":
                    continue
                if name.startswith("key-"):
                    for doc_id, slots in _parse_key_file(_member_text(tar, member), f"{path}:{member.name}"):
                        templates.setdefault(doc_id, []).append(slots)
                elif TEXT_MEMBER_RE.search(name) and "mixed" not in name:
                    anchors.update(_parse_datelines(_member_text(tar, member)))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorpusFormatError(path, f"not a readable tar archive ({error})") from None
    keys = {}
    for doc_id, slot_list in templates.items():
        incidents = [s for s in slot_list if s.get("MESSAGE: TEMPLATE", "*").strip() != "*"]
        keys[doc_id] = KeyDoc(
            tuple(s.get("INCIDENT: DATE", "-") for s in incidents),
            tuple(s.get("INCIDENT: LOCATION", "-") for s in incidents),
            anchors.get(doc_id),
        )
    return keys


def _member_text(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    handle = tar.extractfile(member)
    assert handle is not None
    return handle.read().decode("latin-1")


def _parse_key_file(content: str, where: str) -> list[tuple[str, dict[str, str]]]:
    """Templates as (message id, {slot name: value}); continuation lines join with a space."""
    out: list[tuple[str, dict[str, str]]] = []
    slots: dict[str, str] | None = None
    last = ""
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        match = SLOT_RE.match(line) if line[:1].isdigit() else None
        if match:
            name, value = " ".join(match.group(2).split()), (match.group(3) or "").strip()
            if match.group(1) == "0":
                slots = {}
                out.append((value.split()[0] if value else "", slots))
            elif slots is None:
                raise CorpusFormatError(where, "slot before any MESSAGE: ID", line=number, field=name)
            slots[name] = value
            last = name
        elif slots is not None and line.startswith(" "):
            slots[last] = f"{slots[last]} {line.strip()}".strip()
        else:
            raise CorpusFormatError(where, f"unexpected line {line[:40]!r}", line=number)
    return out


def _parse_datelines(content: str) -> dict[str, tuple[int | None, int, int] | None]:
    """Dateline date of each message: ``SAN SALVADOR, 3 JAN 90 (RADIO ...) -- ...``."""
    parts = DOCID_LINE_RE.split(content)
    out: dict[str, tuple[int | None, int, int] | None] = {}
    for doc_id, body in zip(parts[1::2], parts[2::2]):
        match = DATELINE_RE.search(body.strip().split("--", 1)[0])
        out[doc_id] = None
        if match:
            day, month = match.group(1) or match.group(4), match.group(2) or match.group(3)
            year = int(match.group(5)) + 1900 if match.group(5) else None
            out[doc_id] = _valid_date(year, _month(month), int(day))
    return out


def _month(abbrev: str) -> int:
    return next((i + 1 for i, m in enumerate(MONTHS) if m[:3] == abbrev[:3].lower()), 0)


def _valid_date(year: int | None, month: int, day: int) -> tuple[int | None, int, int] | None:
    try:
        dt.date(year or 2000, month, day)
    except ValueError:
        return None
    return year, month, day


# ---------------------------------------------------------------- silver spans for one document


def silver_spans(text: str, key: KeyDoc, report: ReadReport, where: str) -> Silver:
    """Location and time spans recovered for one document, and the roles to remove."""
    silver = Silver()
    sentences = _sentences(text)
    for value in dict.fromkeys(key.locations):
        report.note("silver_location_values")
        spans = _location_spans(text, value, sentences)
        if spans:
            report.note("silver_location_recovered")
            silver.spans.extend(spans)
        else:
            report.add("silver_location_not_found", f"{where}: {value}")
            silver.unrecovered.add("location")
    for value in dict.fromkeys(key.dates):
        report.note("silver_time_values")
        dates = _exact_dates(value, key.anchor)
        spans = _time_spans(text, dates, key.anchor, sentences) if dates else []
        if spans:
            report.note("silver_time_recovered")
            silver.spans.extend(spans)
        else:
            report.add("silver_time_not_found" if dates else "silver_time_vague", f"{where}: {value}")
            silver.unrecovered.add("time")
    silver.spans = [s for s in silver.spans if s.role not in silver.unrecovered]
    return silver


def _sentences(text: str) -> list[int]:
    """Sentence start offsets, then the text length."""
    return [0] + [m.end() for m in SENTENCE_END_RE.finditer(text)] + [len(text)]


def _sentence_of(sentences: list[int], start: int) -> tuple[int, int]:
    index = min(max(bisect.bisect_right(sentences, start) - 1, 0), len(sentences) - 2)
    return sentences[index], sentences[index + 1]


def _attack_context(text: str, sentences: list[int], start: int, end: int) -> bool:
    """An attack word within 8 words in the same sentence, no reporting word right next to it."""
    first, last = _sentence_of(sentences, start)
    before = WORD_RE.findall(text, first, start)[-3:]
    after = WORD_RE.findall(text, end, last)[:2]
    if any(REPORTING_RE.fullmatch(w) for w in before + after):
        return False
    for match in TRIGGER_RE.finditer(text, first, last):
        gap = text[match.end():start] if match.end() <= start else text[end:match.start()]
        if (match.end() <= start or match.start() >= end) and len(WORD_RE.findall(gap)) <= 8:
            return True
    return False


def _find(text: str, phrase: str) -> list[tuple[int, int]]:
    pattern = _phrase_pattern(phrase.lower())
    return [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern else []


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern | None:
    words = [re.escape(w) for w in phrase.split()]
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + (r"(?!\w)" if phrase[-1:].isalnum() else ""))


# Locations


def location_levels(value: str) -> list[list[list[str]]]:
    """``(A: B (CITY) - C (TOWN)) / (A)`` -> alternatives of levels of place names."""
    value = TYPE_PAREN_RE.sub("", value.replace("?", " "))
    alternatives = []
    for alternative in re.split(r"\s/\s", value):
        alternative = alternative.replace("(", " ").replace(")", " ")
        levels = [[p.strip() for p in re.split(r"\s-\s", lev) if p.strip()] for lev in alternative.split(":")]
        levels = [lev for lev in levels if lev]
        if levels and levels != [["-"]] and levels != [["*"]]:
            alternatives.append(levels)
    return alternatives


def _location_spans(text: str, value: str, sentences: list[int]) -> list[Span]:
    spans: list[Span] = []
    for levels in location_levels(value):
        found = [[o for name in level for o in _find(text, name)] for level in levels]
        if not found[-1]:
            continue  # the value's most specific place is not written as such
        last = len(levels) - 1
        kept: list[tuple[int, int]] = []
        for depth in range(last, -1, -1):  # deepest first, so that "zacamil, san salvador" works
            for start, end in found[depth]:
                if any(s < end and start < e for s, e in kept):
                    continue  # "guatemala" inside "guatemala city"
                everywhere = depth == last and depth > 0
                if everywhere or _after_place(text, start, kept) or _located_attack(text, sentences, start, end):
                    kept.append((start, end))
        if any(o in kept for o in found[-1]):
            spans.extend(Span(s, e, "location", LOCATION_LABEL) for s, e in kept)
    return spans


def _located_attack(text: str, sentences: list[int], start: int, end: int) -> bool:
    locative = LOCATIVE_RE.search(text[max(0, start - 40):start])
    return bool(locative) and _attack_context(text, sentences, start, end)


def _after_place(text: str, start: int, places: list[tuple[int, int]]) -> bool:
    """``zacamil, san salvador`` / ``in usulutan, el salvador``: a wider place right after."""
    return any(0 <= start - e <= 3 and re.fullmatch(r",?\s+", text[e:start]) for _, e in places)


# Dates


def _exact_dates(value: str, anchor: tuple[int | None, int, int] | None) -> list[tuple[int | None, int, int]]:
    """The single dates among a DATE value's alternatives; ranges and ``- DATE`` are vague."""
    dates = []
    for alternative in re.split(r"\s*/\s*", value):
        alternative = alternative.strip().strip("()").replace("?", "").strip()
        match = KEY_DATE_RE.fullmatch(alternative)
        if not match:
            continue
        if match.group(1):
            day, month, year = int(match.group(1)), _month(match.group(2)), match.group(3)
        else:
            day, month, year = int(match.group(5)), _month(match.group(4)), None
        parsed = _valid_date(int(year) + 1900 if year else (anchor[0] if anchor else None), month, day)
        if month and parsed:
            dates.append(parsed)
    return dates


def _time_spans(text: str, dates: list, anchor, sentences: list[int]) -> list[Span]:
    found: set[tuple[int, int]] = set()
    for date in dates:
        found.update(_absolute(text, date))
        found.update(_relative(text, date, anchor, sentences))
    return [Span(s, e, "time", TIME_LABEL) for s, e in sorted(found)]


def _month_pattern(month: int) -> str:
    name = MONTHS[month - 1]
    extra = r"|sept\.?" if month == 9 else ""
    return rf"(?:{name}|{name[:3]}\.?{extra})"


@functools.lru_cache(maxsize=512)
def _date_patterns(month: int, day: int) -> tuple[re.Pattern, re.Pattern]:
    month_re = _month_pattern(month)
    return (
        re.compile(rf"(?<![\w-])0?{day}\s+(?:of\s+)?{month_re}(?!\w)"),
        re.compile(rf"(?<![\w-]){month_re}\s+0?{day}(?:st|nd|rd|th)?(?![\w-])"),
    )


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _absolute(text: str, date: tuple[int | None, int, int]) -> list[tuple[int, int]]:
    """``30 december``, ``30 of december``, ``december 30th``, with a following year kept."""
    year, month, day = date
    spans = []
    for pattern in _date_patterns(month, day):
        for match in pattern.finditer(text):
            end = match.end()
            following = YEAR_AFTER_RE.match(text, end)
            if following:
                written = int(following.group(1)) % 100
                if len(following.group(1)) == 4 and year and written != year % 100:
                    continue  # the same day of another year
                if year is None or written == year % 100:
                    end = following.end()
            spans.append((match.start(), end))
    return spans


def _relative(text: str, date, anchor, sentences: list[int]) -> list[tuple[int, int]]:
    """Relative expressions that mean ``date`` seen from the dateline, in attack context."""
    if anchor is None or (anchor[0] or date[0]) is None:
        return []
    try:
        day0 = dt.date(anchor[0] or date[0], anchor[1], anchor[2])
        offset = (dt.date(date[0] or day0.year, date[1], date[2]) - day0).days
    except ValueError:
        return []
    patterns = [pattern for offsets, pattern in RELATIVE if offset in offsets]
    if -7 <= offset <= 0:
        weekday = WEEKDAYS[(day0.weekday() + offset) % 7]
        last = "" if offset == 0 else r"(?:last\s+|this\s+past\s+)?"
        patterns.append(rf"(?:early\s+|late\s+)?{last}{weekday}(?:\s+(?:morning|afternoon|evening|night))?")
    spans = []
    for pattern in patterns:
        for match in _compiled(rf"(?<!\w)(?:{pattern})(?!\w)").finditer(text):
            if _weekday_offset_ok(match.group(), offset) and _attack_context(text, sentences, *match.span()):
                spans.append(match.span())
    return spans


def _weekday_offset_ok(expression: str, offset: int) -> bool:
    """``last monday`` said on a Monday means a week ago; a bare weekday means this week."""
    if not any(day in expression for day in WEEKDAYS):
        return True
    is_last = expression.split()[0] in ("last", "this") or " last " in f" {expression} "
    return offset == -7 if is_last and offset in (0, -7) else offset != -7
