"""CEAF-REE (strict): document-level role-filler scoring as the MUC-4 literature reports it.

Why a second scorer: MUC-4 results (GRIT, Du, Rush & Cardie, EACL 2021: micro F1 54.50 on the
test split) are not span scores. Per document and role, the *strings* a system extracts are
matched one-to-one to the gold *entities* (each a cluster of coreferent mention strings): a
predicted string matches an entity when, normalised, it equals one of the entity's normalised
mentions. TP is the size of the best one-to-one alignment; P = TP / #predicted strings and
R = TP / #gold entities, summed over documents, per role and micro over roles.

This mirrors GRIT's own scorer (``eval.py`` in xinyadu/grit_doc_event_entity):
- ``normalize_filler`` is GRIT's ``normalize_string``: lower case, remove ASCII punctuation
  (``string.punctuation``), replace the words a/an/the by a space, collapse whitespace — in
  that order;
- strict similarity is 1 when the predicted string is among the entity's mentions, else 0,
  and GRIT's ``linear_sum_assignment`` over a 0/1 matrix finds a maximum matching, which
  ``max_matching`` computes directly (same TP, no scipy);
- gold entities with no mention are dropped, as GRIT does when it loads the gold file;
  an entity listed twice under one role with the same mentions is kept once (GRIT's MUC-4
  files have no such repeats; WikiEvents lists an entity once per event);
- P, R and F1 are 0 when their denominator (or TP) is 0.
Differences, all forced by scoring spans instead of GRIT's one-list-per-entity output:
- a span tagger marks every occurrence of a filler. Predicted spans that carry an entity id
  (``meta["span_entities"]``, written by the tagger's mention grouping and by any system that
  groups its own mentions) form one predicted entity per id: its distinct normalised strings,
  matched as GRIT's ``phi_strict`` does (every predicted string must be a mention of the gold
  entity). Spans without an id: strings equal after normalisation are merged into one
  predicted entity (GRIT counts each predicted entity it is given);
- predicted strings that normalise to the empty string ("the", "--") are dropped and counted;
- a missing predicted document counts as an empty prediction (GRIT's scorer would crash);
  predicted documents without gold are ignored and counted.

Key space: gold entities live in ``doc.meta["entities"]`` as ``{key: [[mention, ...], ...]}``
(MUC-4, WikiEvents); in a corpus of the user's own they come from the gold spans' ``entity`` ids
(``meta["span_entities"]``), one entity per id and role, keyed by role.
When the keys are corpus-native labels (MUC-4: PerpInd, PerpOrg, Target, Victim, Weapon),
predictions are keyed by ``span.label`` so that the score is comparable with GRIT's five-role
micro F1. If the predictions carry no labels at all, the native keys are mapped onto project
roles (mapping learnt from the gold spans) and the result is flagged as not comparable with the
published number. When the keys are project roles (WikiEvents), predictions use ``span.role``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from eventroles.data.document import Document
from eventroles.data.roles import ROLES
from eventroles.models.entities import normalize_mention

from .metrics import max_matching, pair_documents, score_block

# The published reference results on the same split, shown beside ours (README of the corpora).
PUBLISHED: dict[str, dict[str, Any]] = {
    "muc4": {
        "system": "GRIT (Du, Rush & Cardie, EACL 2021)",
        "column": "GRIT, published",
        "split": "test",
        "scores": {
            "PerpInd": {"f1": 0.4955},
            "PerpOrg": {"f1": 0.5185},
            "Target": {"f1": 0.4898},
            "Victim": {"f1": 0.6784},
            "Weapon": {"f1": 0.5913},
            "micro": {"precision": 0.6419, "recall": 0.4736, "f1": 0.5450},
        },
    }
}


# GRIT's normalisation: lower, strip punctuation, drop articles, collapse whitespace.
normalize_filler = normalize_mention


def has_gold_entities(doc: Document) -> bool:
    """Whether ``doc`` has entity annotation: entity lists, or gold spans that carry entity ids."""
    return isinstance(doc.meta.get("entities"), Mapping) or bool(doc.meta.get("span_entities"))


def entities_from_span_ids(gold: Sequence[Document]) -> bool:
    """Whether a gold corpus's entities come from its spans' ids: none of its documents has
    entity lists and some span carries an id. Then *every* document is scored (one without spans
    or ids has no entities), or an article without attacks would drop out of the score."""
    return (not any(isinstance(doc.meta.get("entities"), Mapping) for doc in gold)
            and any(doc.meta.get("span_entities") for doc in gold))


def _entities_from_span_ids(doc: Document) -> dict[str, list[list[str]]]:
    """``role -> entities`` from the spans' ``entity`` ids (the project format), grouped as a
    system's predicted spans are: by id, and a span without an id by its own string."""
    roles = set(doc.roles) | {span.role for span in doc.spans}
    grouped = _predicted_entities(doc, doc, roles, False, Counter())
    return {role: [sorted(entity) for entity in grouped.get(role, [])] for role in roles}


def gold_entities(
    doc: Document, stats: Counter[str] | None = None, *, from_span_ids: bool = False
) -> dict[str, list[set[str]]] | None:
    """``key -> entities`` (each a set of normalised mentions), or None when not annotated.

    A mention may be a string or a ``[string, offset]`` pair (the raw MUC-4 form). An entity
    listed twice under one key with the same normalised mentions (WikiEvents lists an entity
    once per event it takes part in) is kept once and counted.
    """
    raw: Any = _entities_from_span_ids(doc) if from_span_ids else doc.meta.get("entities")
    if not isinstance(raw, Mapping):
        return None
    out: dict[str, list[set[str]]] = {}
    for key, entities in raw.items():
        clusters: list[set[str]] = []
        for entity in entities or []:
            mentions = {normalize_filler(m[0] if isinstance(m, (list, tuple)) else str(m)) for m in entity}
            if entity and mentions not in clusters:
                clusters.append(mentions)
            elif entity and stats is not None:
                stats["gold_duplicate_entities_merged"] += 1
        out[str(key)] = clusters
    return out


def _label_to_role(gold: Sequence[Document]) -> dict[str, str]:
    """Native label -> project role, as the gold spans use them (most frequent pairing)."""
    pairs = Counter((s.label, s.role) for doc in gold for s in doc.spans if s.label is not None)
    mapping: dict[str, str] = {}
    for (label, role), _ in pairs.most_common():
        mapping.setdefault(label, role)
    return mapping


def _ordered(keys: set[str], first_seen: list[str]) -> list[str]:
    """Project roles in schema order; native labels in order of first appearance."""
    if keys <= set(ROLES):
        return [r for r in ROLES if r in keys]
    return [k for k in first_seen if k in keys]


def ceaf_ree(
    gold: Sequence[Document],
    pred: Sequence[Document],
    *,
    label_to_role: Mapping[str, str] | None = None,
    roles: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """CEAF-REE strict over the gold documents that carry ``meta["entities"]`` (or, in a corpus
    without them, over every document when some gold span has an entity id); None if neither.

    ``roles``: the roles the system outputs (as for ``score_corpus``); keys of other roles (a
    native label counts as the role its gold spans carry) are not scored, and not counted as misses.

    Returns ``{"scores": {key: {precision, recall, f1, support (gold entities), predicted,
    correct}, ..., "micro", "macro"}, "key_space": "label" | "role", "comparable_with_published":
    bool, "documents": n, ...counts}``.
    """
    stats: Counter[str] = Counter()
    from_span_ids = entities_from_span_ids(gold)
    annotated = [(doc, gold_entities(doc, stats, from_span_ids=from_span_ids)) for doc in gold]
    annotated = [(doc, ents) for doc, ents in annotated if ents is not None]
    if not annotated:
        return None
    first_seen: list[str] = []
    for _, ents in annotated:
        first_seen += [k for k in ents if k not in first_seen]
    native = not set(first_seen) <= set(ROLES)
    docs = [doc for doc, _ in annotated]
    pairs = pair_documents(docs, pred, stats)
    predicted = [s for _, p in pairs if p is not None for s in p.spans]
    mapping: dict[str, str] | None = None
    # Labels that are not the gold's native ones (spaCy's ORG, PERSON) are no labels: scored on roles.
    if native and predicted and not any(s.label in first_seen for s in predicted):
        mapping = dict(label_to_role) if label_to_role is not None else _label_to_role(gold)
    entity_sets = [_remap(ents, mapping, stats) if mapping is not None else ents for _, ents in annotated]
    label_space = native and mapping is None
    key_set = {k for ents in entity_sets for k in ents}
    if not native:  # project-role keys: every role the documents annotate is scored
        key_set |= set().union(*(doc.roles for doc in docs))
    if roles is not None:
        role_of = {} if not native or mapping is not None else (dict(label_to_role) if label_to_role else _label_to_role(gold))
        key_set = {k for k in key_set if role_of.get(k, k) in roles}
    keys = _ordered(key_set, first_seen)

    counts: dict[str, list[int]] = {k: [0, 0, 0] for k in keys}
    for (gold_doc, pred_doc), ents in zip(pairs, entity_sets):
        doc_keys = keys if native else [k for k in keys if k in ents or k in gold_doc.roles]
        by_key = _predicted_entities(gold_doc, pred_doc, set(doc_keys), label_space, stats)
        for key in doc_keys:
            entities = ents.get(key, [])
            predicted_entities = by_key.get(key, [])
            edges = [[i for i, e in enumerate(entities) if p <= e] for p in predicted_entities]
            tp = len(max_matching(edges, len(entities)))
            acc = counts[key]
            acc[0] += tp
            acc[1] += len(predicted_entities)
            acc[2] += len(entities)

    scores = score_block({k: tuple(c) for k, c in counts.items()})
    # Comparable with a published micro only over every native key, with every prediction scored:
    # leaving out a hard role (Weapon), or predictions under foreign labels, changes what is measured.
    role_map = dict(label_to_role) if label_to_role is not None else (_label_to_role(gold) if label_space else {})
    native_roles = {r for label, r in role_map.items() if label in first_seen} if label_space else set()
    stray = sum(1 for s in predicted if s.label not in first_seen and s.role in native_roles)  # MUC-4's silver
    comparable = label_space and set(keys) == set(first_seen) and stray == 0  # location/time do not count
    return {
        "scores": scores,
        "key_space": "label" if label_space else "role",
        "comparable_with_published": comparable,
        "documents": len(docs),
        **{k: stats[k] for k in CEAF_COUNT_KEYS},
    }


CEAF_COUNT_KEYS = (
    "missing_predictions",
    "unknown_predictions",
    "unlabelled_predictions_ignored",
    "predictions_outside_scored_keys",
    "predictions_empty_after_normalisation",
    "predicted_strings_merged",
    "gold_labels_without_role",
    "gold_duplicate_entities_merged",
)


def _remap(
    ents: dict[str, list[set[str]]], mapping: Mapping[str, str], stats: Counter[str]
) -> dict[str, list[set[str]]]:
    """Native-label entities regrouped under project roles (PerpInd + PerpOrg -> attacker)."""
    out: dict[str, list[set[str]]] = {}
    for label, entities in ents.items():
        role = mapping.get(label)
        if role is None:
            stats["gold_labels_without_role"] += len(entities)
            continue
        kept = out.setdefault(role, [])
        for entity in entities:  # one entity listed as both Target and Victim is one target
            if entity in kept:
                stats["gold_duplicate_entities_merged"] += 1
            else:
                kept.append(entity)
    return out


def _predicted_entities(
    gold_doc: Document, pred_doc: Document | None, keys: set[str], by_label: bool, stats: Counter[str]
) -> dict[str, list[frozenset[str]]]:
    """``key -> predicted entities`` (each a set of normalised strings) of one document.

    Spans with an entity id in ``meta["span_entities"]`` group by that id; the others group by
    their normalised string.
    """
    if pred_doc is None:
        return {}
    entity_of = pred_doc.meta.get("span_entities") or {}
    groups: dict[str, dict[Any, set[str]]] = {}
    for span in pred_doc.spans:
        key = span.label if by_label else span.role
        if key is None:
            stats["unlabelled_predictions_ignored"] += 1
            continue
        if key not in keys:
            stats["predictions_outside_scored_keys"] += 1
            continue
        normalised = normalize_filler(gold_doc.text[span.start : span.end])
        if not normalised:
            stats["predictions_empty_after_normalisation"] += 1
            continue
        entity = entity_of.get((span.start, span.end, span.role))
        group = ("entity", entity) if entity is not None else ("string", normalised)
        bucket = groups.setdefault(key, {}).setdefault(group, set())
        if bucket:
            stats["predicted_strings_merged"] += 1
        bucket.add(normalised)
    return {key: sorted((frozenset(v) for v in by_group.values()), key=sorted) for key, by_group in groups.items()}
