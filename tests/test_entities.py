"""Mention grouping: which predicted spans name one entity."""

from __future__ import annotations

from eventroles.data.document import Document, Span
from eventroles.models.entities import entity_ids, is_acronym_of, normalize_mention


def _doc(text: str, *spans: tuple[str, str, str | None]) -> Document:
    found, cursor = [], {}
    for mention, role, label in spans:
        start = text.index(mention, cursor.get(mention, 0))
        cursor[mention] = start + 1
        found.append(Span(start, start + len(mention), role, label))
    return Document("d", text, sorted(found))


def test_acronyms_match_their_expansions_in_any_order() -> None:
    assert is_acronym_of("fmln", "farabundo marti national liberation front")
    assert is_acronym_of("urng", "guatemalan national revolutionary unity")
    assert is_acronym_of("eln", "ejercito de liberacion nacional")  # function words skipped
    assert not is_acronym_of("army", "salvadoran army")
    assert not is_acronym_of("pcn", "farabundo marti national liberation front")
    assert not is_acronym_of("fmln", "fmln")  # one word is not an expansion
    assert not is_acronym_of("ac", "car accident")  # letters out of order: only for 3+ word names
    assert is_acronym_of("un", "united nations")


def test_mentions_of_one_entity_share_an_id_and_others_do_not() -> None:
    text = ("Members of the Farabundo Marti National Liberation Front (FMLN) attacked a substation. "
            "The FMLN also burned a bus. Soldiers said the fmln fled. Soldiers guarded the substation.")
    doc = _doc(text,
               ("Farabundo Marti National Liberation Front", "attacker", "PerpOrg"),
               ("FMLN", "attacker", "PerpOrg"),
               ("FMLN", "attacker", "PerpOrg"),
               ("fmln", "attacker", "PerpOrg"),
               ("a substation", "target", None),
               ("a bus", "target", None),
               ("the substation", "target", None))
    ids = entity_ids(doc, doc.spans)
    by_text: dict[str, set[int]] = {}
    for span in doc.spans:
        by_text.setdefault(doc.span_text(span), set()).add(ids[(span.start, span.end, span.role)])
    fmln = by_text["Farabundo Marti National Liberation Front"] | by_text["FMLN"] | by_text["fmln"]
    assert len(fmln) == 1, "expansion, acronym and lower-case acronym are one entity"
    assert by_text["a substation"] == by_text["the substation"], "equal after dropping articles"
    assert by_text["a bus"] != by_text["a substation"]
    assert not fmln & (by_text["a bus"] | by_text["a substation"])


def test_grouping_stays_within_a_role_across_native_labels() -> None:
    doc = _doc("Guerrillas of the FMLN killed guerrillas. The guerrillas fled.",
               ("Guerrillas", "attacker", "PerpInd"), ("guerrillas", "target", "Victim"),
               ("guerrillas", "attacker", "PerpOrg"))
    ids = entity_ids(doc, doc.spans)
    attacker = {ids[(s.start, s.end, s.role)] for s in doc.spans if s.role == "attacker"}
    target = {ids[(s.start, s.end, s.role)] for s in doc.spans if s.role == "target"}
    assert len(attacker) == 1, "one attacker entity, whichever native label each mention has"
    assert attacker.isdisjoint(target)


def test_bracketed_acronym_is_grouped_even_when_letters_differ() -> None:
    doc = _doc("The Revolutionary Army of the People (ERP) struck.",
               ("Revolutionary Army of the People", "attacker", None), ("ERP", "attacker", None))
    assert not is_acronym_of(normalize_mention("ERP"), normalize_mention("Revolutionary Army of the People"))
    assert len(set(entity_ids(doc, doc.spans).values())) == 1


def test_name_suffix_rule_is_opt_in() -> None:
    doc = _doc("Jose Napoleon Duarte arrived; Duarte spoke.",
               ("Jose Napoleon Duarte", "target", None), ("Duarte", "target", None))
    assert len(set(entity_ids(doc, doc.spans).values())) == 2
    assert len(set(entity_ids(doc, doc.spans, name_suffix=True).values())) == 1


def test_mentions_that_normalise_to_nothing_are_separate_entities() -> None:
    doc = Document("x", "The attack. A bomb. The car. -- x")
    spans = [Span(0, 3, "target"), Span(12, 13, "target"), Span(20, 23, "target"), Span(29, 31, "target")]
    ids = entity_ids(doc, spans)
    assert len({ids[(s.start, s.end, s.role)] for s in spans}) == 4  # "The", "A", "The", "--" were one entity


def test_bracketed_acronym_found_among_many_spans() -> None:
    text = "Farabundo Marti National Liberation Front (FMLN) rebels. " + "Troops shelled the town. " * 300
    doc = Document("x", text)
    spans = [Span(0, 41, "attacker"), Span(43, 47, "attacker")]
    spans += [Span(57 + 25 * k, 63 + 25 * k, "attacker") for k in range(300)]  # "Troops" 300 times
    ids = entity_ids(doc, spans)
    assert ids[(0, 41, "attacker")] == ids[(43, 47, "attacker")]
    assert ids[(57, 63, "attacker")] != ids[(0, 41, "attacker")]


def test_typographic_quotes_do_not_split_an_entity() -> None:
    # news writes ’ and “ ”; only ASCII punctuation was dropped, so these were two entities each
    doc = _doc("Boko Haram’s fighters struck; Boko Haram's fighters fled. “FMLN” denied it; FMLN units",
               ("Boko Haram’s fighters", "attacker", None), ("Boko Haram's fighters", "attacker", None),
               ("“FMLN”", "attacker", None), ("FMLN", "attacker", None))
    ids = entity_ids(doc, doc.spans)
    first, second, third, fourth = (ids[(s.start, s.end, s.role)] for s in doc.spans)
    assert first == second and third == fourth and first != third
