"""Corpus statistics: documents, words, spans per role, repairs, and the encoding round trip."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from .document import Document
from .problems import ReadReport
from .roles import ROLES
from .tags import TagSet


def corpus_stats(docs: Sequence[Document], report: ReadReport, tokenizer: Any | None = None) -> dict[str, Any]:
    spans = Counter(span.role for doc in docs for span in doc.spans)
    labels = Counter(span.label for doc in docs for span in doc.spans if span.label)
    annotated = Counter(role for doc in docs for role in doc.roles)
    stats: dict[str, Any] = {
        "documents": len(docs),
        "words": sum(len(doc.words) for doc in docs),
        "characters": sum(len(doc.text) for doc in docs),
        "documents_without_spans": sum(1 for doc in docs if not doc.spans),
        "spans": {role: spans.get(role, 0) for role in ROLES if role in annotated or role in spans},
        "native_labels": dict(sorted(labels.items())),
        "documents_annotating_role": {role: annotated[role] for role in ROLES if annotated[role]},
        **report.as_dict(),
    }
    if tokenizer is not None and docs:
        from .encoding import round_trip_share

        roles = [role for role in ROLES if annotated[role]]
        exact, total = round_trip_share(tokenizer, docs, TagSet.from_roles(roles))
        stats["round_trip"] = {"exact": exact, "total": total, "share": round(exact / total, 4) if total else 1.0}
    return stats
