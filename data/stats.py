"""Corpus statistics: documents, words, spans per role, span shape, repairs, and the encoding
round trip.

Why span shape: corpora draw span boundaries differently (WikiEvents marks head words, the
project corpus whole noun phrases with their article), and a model trained on one convention
scores near zero on exact match against another. Mean words per span and the share of spans
that start with "a", "an" or "the" show a mismatch before anyone trains on a mixture.

Why two round trips: a span the encoder cannot put into BIO tags and decode back is a span no
model can learn. How many survive depends on the tag set: corpora with native labels (MUC-4's
PerpInd...) are trained with one head per label, where two overlapping spans of one role but
different labels both fit, so ``round_trip`` measures with the native tag set when spans carry
labels (one head per observed label, sorted, each with its role) and with the roles otherwise;
``round_trip_roles`` always measures with one head per role.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from .document import Document
from .problems import CorpusError, ReadReport
from .roles import ROLES
from .tags import TagSet


def corpus_stats(docs: Sequence[Document], report: ReadReport, tokenizer: Any | None = None) -> dict[str, Any]:
    # A role span counts once though it carries several native labels (WikiEvents' "brothers" is
    # Attacker, Injurer and Killer); the labels are counted in native_labels.
    spans = Counter(role for doc in docs for (_, _, role) in {(s.start, s.end, s.role) for s in doc.spans})
    labels = Counter(span.label for doc in docs for span in doc.spans if span.label)
    annotated = Counter(role for doc in docs for role in doc.roles)
    stats: dict[str, Any] = {
        "documents": len(docs),
        "words": sum(len(doc.words) for doc in docs),
        "characters": sum(len(doc.text) for doc in docs),
        # negatives: documents that annotate some role and have no span of it (GENEVA's documents
        # with "roles": [] annotate nothing, so they are not negatives)
        # (an empty text is an empty scrape, not a negative article: counted apart)
        "documents_without_spans": sum(1 for doc in docs if doc.roles and not doc.spans and doc.text.strip()),
        "documents_annotating_no_role": sum(1 for doc in docs if not doc.roles),
        "documents_with_empty_text": sum(1 for doc in docs if not doc.text.strip()),
        "spans": {role: spans.get(role, 0) for role in ROLES if role in annotated or role in spans},
        "native_labels": dict(sorted(labels.items())),
        "documents_annotating_role": {role: annotated[role] for role in ROLES if annotated[role]},
        "spans_with_entity_ids": sum(len(doc.meta.get("span_entities") or {}) for doc in docs),
        "span_shape": span_shape(docs),
        **report.as_dict(),
    }
    if tokenizer is not None and docs:
        roles = TagSet.from_roles([role for role in ROLES if annotated[role]])
        try:
            native = native_tagset(docs)
        except CorpusError as error:  # a label used for two roles (an NER type, say): measure per role
            native = None
            stats["round_trip_note"] = f"{error}: not one head per label, so the round trip is measured per role"
        stats["round_trip_roles"] = round_trip(tokenizer, docs, roles)
        stats["round_trip"] = round_trip(tokenizer, docs, native) if native else stats["round_trip_roles"]
    return stats


ARTICLES = frozenset({"a", "an", "the"})


def span_shape(docs: Sequence[Document]) -> dict[str, dict[str, float]]:
    """Per role with spans: mean words per span, share of one-word spans, share starting with an
    article (words as eventroles splits them, so punctuation counts as a word)."""
    totals: dict[str, list[int]] = {}  # role -> [spans, words, one-word spans, article-initial spans]
    for doc in docs:
        for span in doc.spans:
            covered = doc.words.covering(span.start, span.end)
            if covered is None:
                continue
            first, last = covered
            start, end = doc.words.starts[first], doc.words.ends[first]
            row = totals.setdefault(span.role, [0, 0, 0, 0])
            row[0] += 1
            row[1] += last - first
            row[2] += last - first == 1
            row[3] += doc.text[start:end].lower() in ARTICLES
    shape: dict[str, dict[str, float]] = {}
    for role in (role for role in ROLES if role in totals):
        n, words, single, article = totals[role]
        shape[role] = {
            "mean_words": round(words / n, 2),
            "one_word": round(single / n, 4),
            "starts_with_article": round(article / n, 4),
        }
    return shape


def native_tagset(docs: Sequence[Document]) -> TagSet | None:
    """One head per native label seen on a span (sorted), mapped to its role; None without labels.

    A label seen with two roles cannot be one head: that is a corpus error.
    """
    seen: dict[str, tuple[str, str]] = {}  # label -> (role, first document)
    for doc in docs:
        for span in doc.spans:
            if span.label is None:
                continue
            role, where = seen.setdefault(span.label, (span.role, doc.id))
            if role != span.role:
                raise CorpusError(
                    f"native label {span.label!r} has two roles: {role!r} (document {where!r}) "
                    f"and {span.role!r} (document {doc.id!r})"
                )
    if not seen:
        return None
    return TagSet.from_labels({label: seen[label][0] for label in sorted(seen)})


def round_trip(tokenizer: Any, docs: Sequence[Document], tagset: TagSet) -> dict[str, Any]:
    """Share of gold spans that survive encoding to subword labels and back under ``tagset``.

    ``spans_without_tag`` counts spans the tag set has no head for (e.g. unlabelled spans in a
    labelled corpus), which are not measured; ``encoding`` counts what the encoder skipped.
    """
    from .encoding import round_trip_share

    encoding = ReadReport()
    exact, total = round_trip_share(tokenizer, docs, tagset, encoding)
    result: dict[str, Any] = {
        "by": tagset.by,
        "tags": list(tagset.tags),
        "exact": exact,
        "total": total,
        "share": round(exact / total, 4) if total else 1.0,
        "encoding": dict(sorted(encoding.counts.items())),
    }
    untagged = sum(1 for doc in docs for span in doc.spans if tagset.tag_of(span) is None)
    if untagged:
        result["spans_without_tag"] = untagged
    return result
