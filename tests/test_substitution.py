"""Name substitution: a copy's spans cover the same words, its names change everywhere, offsets exact."""

from __future__ import annotations

import numpy as np

from eventroles.data.document import Document, Span
from eventroles.data.substitution import NamePool, is_name, lowercase_words, substitute_names, substituted_copies


def _doc(doc_id: str, text: str, *spans: tuple[str, str], occurrence: int = 0, **meta) -> Document:
    found = []
    for piece, role in spans:
        start = text.index(piece)
        found.append(Span(start, start + len(piece), role))
    return Document(doc_id, text, sorted(found), meta=dict(meta))


ARTICLE = _doc(
    "a1",
    "Militants loyal to Omar Haddad shelled Kidal on Sunday. Haddad later denied it; militants in Kidal said so too.",
    ("Omar Haddad", "attacker"), ("Kidal", "location"), ("Sunday", "time"),
)
OTHERS = [
    _doc("b1", "Soldiers of Yusuf Bello raided Gao.", ("Yusuf Bello", "attacker"), ("Gao", "location")),
    _doc("b2", "Rebels attacked Timbuktu at dawn; the rebels fled.", ("Rebels", "attacker"), ("Timbuktu", "location")),
]


def _copy(doc: Document, pool_docs: list[Document], seed: int = 13) -> Document:
    copies, _ = substituted_copies([doc], NamePool.of(pool_docs), seed)
    assert len(copies) == 1
    return copies[0]


def test_a_name_is_replaced_everywhere_and_every_span_indexes_the_new_text() -> None:
    copy = _copy(ARTICLE, [ARTICLE, *OTHERS])
    texts = {s.role: copy.span_text(s) for s in copy.spans}
    assert texts["attacker"] == "Yusuf Bello", "the only other attacker name: 'Rebels' is also written 'rebels'"
    assert texts["location"] in {"Gao", "Timbuktu"}
    assert "Kidal" not in copy.text and copy.text.count(texts["location"]) == 2, "every mention, annotated or not"
    assert "Bello later denied" in copy.text, "a surname alone follows its full name"
    assert texts["time"] == "Sunday", "a name no other document gives its role stays"
    assert copy.text.startswith("Militants loyal to") and "militants in" in copy.text
    assert [s.role for s in copy.spans] == [s.role for s in ARTICLE.spans]
    assert copy.id == ARTICLE.id and copy.meta["substituted_from"] == "a1"


def test_only_names_are_replaced() -> None:
    lowercase = lowercase_words([ARTICLE.text, *(d.text for d in OTHERS)])
    assert is_name("Omar Haddad", lowercase) and is_name("Gulf of Aden", lowercase)
    assert not is_name("Militants", lowercase), "written 'militants' elsewhere: a common word starting a sentence"
    assert not is_name("the rebels", lowercase)
    text = "GUERRILLAS OF THE FMLN ATTACKED USULUTAN."
    capitals = _doc("m1", text, ("FMLN", "attacker"), ("USULUTAN", "location"))
    assert substituted_copies([capitals], NamePool.of([capitals, *OTHERS]), 13)[0] == [], "texts in capitals carry no name signal"


def test_a_name_whose_mention_holds_another_span_stays_and_a_name_inside_a_span_changes() -> None:
    text = "Bombers hit Oklahoma City. Oklahoma City mourned."
    second = text.rindex("Oklahoma")
    doc = _doc("c1", text, ("Oklahoma City", "location"))
    doc.spans.append(Span(second, second + len("Oklahoma"), "target"))
    victim = _doc("b3", "Gunmen shot Aliyu Sani.", ("Aliyu Sani", "target"))
    copy = _copy(doc, [doc, victim, *OTHERS])
    # "Oklahoma City" would swallow the target's start; the target name changes, in the location too
    assert copy.text == "Bombers hit Aliyu Sani City. Aliyu Sani City mourned."
    assert [(copy.span_text(s), s.role) for s in copy.spans] == [("Aliyu Sani City", "location"), ("Aliyu Sani", "target")]


def test_unknown_spans_follow_the_text_and_a_resumed_run_builds_the_same_copy() -> None:
    text = "Omar Haddad's men shelled Kidal. The Haddad faction fled."
    doc = _doc("d1", text, ("Omar Haddad", "attacker"), ("Kidal", "location"))
    faction = text.index("The Haddad faction")
    doc.meta["unknown_spans"] = [[faction, faction + len("The Haddad faction"), "attacker"]]
    copy = _copy(doc, [doc, *OTHERS])
    start, end, role = copy.meta["unknown_spans"][0]
    assert copy.text[start:end] == "The Bello faction" and role == "attacker"
    assert _copy(doc, [doc, *OTHERS]).text == copy.text, "deterministic in the seed and the document's id"


def test_documents_without_names_or_with_a_shared_id_get_no_copy() -> None:
    plain = _doc("e1", "Gunmen killed three villagers; the gunmen fled.", ("Gunmen", "attacker"), ("three villagers", "target"))
    twin = Document("b1", "Soldiers of Yusuf Bello raided Gao.", OTHERS[0].spans)
    copies, count = substituted_copies([plain, OTHERS[0], twin, ARTICLE], NamePool.of([plain, *OTHERS, ARTICLE]), 13)
    assert [c.id for c in copies] == ["a1"], "no name in e1; b1 is two documents, so a copy could not be paired"
    assert count.documents == 1 and count.names >= 2 and count.mentions >= 4


def test_substitute_names_draws_from_the_role_and_avoids_names_already_in_the_text() -> None:
    doc = _doc("f1", "Yusuf Bello met Omar Haddad in Gao.", ("Omar Haddad", "attacker"), ("Gao", "location"))
    pool = {"attacker": ["Yusuf Bello", "Ali Musa"], "location": ["Gao"]}
    copy, names, mentions = substitute_names(doc, pool, frozenset({"met", "in"}), np.random.default_rng(0))
    assert copy.span_text(copy.spans[0]) == "Ali Musa", "Yusuf Bello is already in the article: two men would merge"
    assert copy.span_text(copy.spans[1]) == "Gao" and (names, mentions) == (1, 1)


def _substitute(doc: Document, pool: dict[str, list[str]], seed: int = 0) -> Document:
    lowercase = lowercase_words([doc.text, "the city port militiamen was executed fled later his"])
    result = substitute_names(doc, pool, lowercase, np.random.default_rng(seed))
    assert result is not None
    return result[0]


def test_a_surname_follows_only_a_person_like_name_and_only_where_it_stands_alone() -> None:
    text = "Timothy McVeigh bombed it. McVeigh was executed. His father Abdul-Baki McVeigh fled."
    doc = _doc("g1", text, ("Timothy McVeigh", "attacker"))
    copy = _substitute(doc, {"attacker": ["Guccifer 2.0"]})
    assert copy.text == "Guccifer 2.0 bombed it. Guccifer 2.0 was executed. His father Abdul-Baki McVeigh fled.", \
        "a replacement without a surname stands in whole; another man of that surname keeps his"
    places = _doc("g2", "Pirates raided the Gulf of Aden. Aden port was shut.", ("the Gulf of Aden", "location"))
    assert _substitute(places, {"location": ["the Bay of Biscay"]}).text.endswith("Aden port was shut.")
    one_word = _doc("g3", "Omar Haddad attacked. Later Haddad fled.", ("Omar Haddad", "attacker"))
    assert _substitute(one_word, {"attacker": ["Boko"]}).text == "Boko attacked. Later Boko fled."


def test_two_names_never_get_one_replacement_nor_one_the_article_already_uses() -> None:
    doc = _doc("h1", "Omar Haddad and Ali Musa attacked Mosul.", ("Omar Haddad", "attacker"), ("Ali Musa", "target"),
               ("Mosul", "location"))
    for seed in range(5):
        copy = _substitute(doc, {"attacker": ["Yusuf Bello"], "target": ["Yusuf Bello", "Sani Abacha"],
                                 "location": ["the Mosul Dam", "Gao"]}, seed)
        assert copy.text == "Yusuf Bello and Sani Abacha attacked Gao."


def test_a_name_is_matched_on_whole_words_only() -> None:
    text = "Gunmen from Jose\u0301 Ramos's village shot Jose."  # a decomposed é: "Jose" is not a word there
    doc = _doc("i1", text, ("Jose", "target"))
    doc.spans[:] = [Span(text.rindex("Jose"), text.rindex("Jose") + 4, "target")]
    copy = _substitute(doc, {"target": ["Ali Musa"]})
    assert copy.text == "Gunmen from Jose\u0301 Ramos's village shot Ali Musa."
