"""tools/check_annotations.py: each guideline rule on small invented documents."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from eventroles.data.document import Document, Span
from eventroles.data.readers.jsonl import write_jsonl

ROOT = Path(__file__).resolve().parents[1]


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_annotations", ROOT / "tools" / "check_annotations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_annotations", module)
    spec.loader.exec_module(module)
    return module


ca = _load_checker()


def doc(marked: str, doc_type: str = "bombing", doc_id: str = "t-001") -> Document:
    """A document from inline markup, ``[role: words]``, as in the sample sources."""
    text, spans, stack, i = [], [], [], 0
    while i < len(marked):
        if marked[i] == "[":
            colon = marked.index(": ", i)
            stack.append((marked[i + 1 : colon], len(text)))
            i = colon + 2
        elif marked[i] == "]":
            role, start = stack.pop()
            spans.append(Span(start, len(text), role))
            i += 1
        else:
            text.append(marked[i])
            i += 1
    return Document(doc_id, "".join(text), sorted(spans), meta={"type": doc_type})


def rules(marked: str, doc_type: str = "bombing") -> list[str]:
    return [f.rule for f in ca.check_document(doc(marked, doc_type))]


CLEAN = "[attacker: Rebels] shelled [target: [location: Kalu]] on [time: Sunday] with [weapon: mortars]."


def test_a_clean_document_has_no_findings() -> None:
    assert rules(CLEAN) == []


# ---------------------------------------------------------------- hard rules


def test_pronoun_only_span() -> None:
    assert rules("[attacker: Rebels] shelled [target: Kalu]. [attacker: They] left.") == ["pronoun"]
    assert "pronoun" not in rules("[attacker: Rebels] hit a [weapon: mine] near [target: Kalu].")


@pytest.mark.parametrize(
    "marked",
    [
        "[attacker: Rebels] shelled [target: Kalu] [time: on Sunday].",
        "[attacker: Rebels] shelled [target: a school] [location: in Kalu].",
        "[attacker: Rebels] shelled [target: a school] [location: near the river].",
        "[attacker: Rebels] shelled [target: a school] [time: during the night].",
        "[attacker: Rebels] shelled [target: a school] [time: between 8 and 9 p.m].",
        "[time: In the afternoon], [attacker: rebels] shelled [target: a school].",
    ],
)
def test_time_or_location_starting_with_a_preposition(marked: str) -> None:
    assert rules(marked) == ["preposition"]


def test_words_that_shift_a_time_and_place_names_are_not_prepositions() -> None:
    assert rules("[attacker: Rebels] shelled [target: Kalu] [time: shortly after midnight].") == []
    assert rules("[attacker: Rebels] shelled [target: Kalu] [time: before dawn].") == []
    assert rules("[attacker: Rebels] shelled [target: Kalu] [time: Within hours].") == []
    # a capitalised place name in mid-sentence is a name, not a preposition
    assert rules("[attacker: Rebels] attacked [target: the gas plant] at [location: In Amenas].") == []


@pytest.mark.parametrize(
    "weapon", ["a car bomb", "the rockets", "three mortar rounds", "his car", "about 80 kilograms of explosives", "12 rockets"]
)
def test_weapon_starting_with_an_article_number_or_possessive(weapon: str) -> None:
    assert rules(f"[attacker: Rebels] used [weapon: {weapon}] against [target: a school].") == ["weapon-determiner"]


def test_weapon_with_adjectives_and_calibres_is_fine() -> None:
    assert rules("[attacker: Rebels] fired [weapon: 120mm mortar rounds] at [target: a school].") == []
    assert rules("[attacker: Rebels] used a [weapon: home-made bomb] against [target: a school].") == []


def test_negative_with_spans() -> None:
    assert rules("The minister met [location: Kalu] officials.", doc_type="none") == ["negative-with-spans"]
    assert rules("The minister met Kalu officials.", doc_type="none") == []


# ---------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    "target",
    ["a fruit seller who", "the patrol which", "who had just opened her stall", "a fruit seller who sold maize"],
)
def test_relative_pronoun(target: str) -> None:
    found = rules(f"[attacker: Gunmen] killed [target: {target}] yesterday.")
    assert found == ["relative-pronoun"]


def test_that_as_a_determiner_is_not_a_relative_pronoun() -> None:
    assert rules("[attacker: Gunmen] attacked [target: that convoy] again.") == []


def test_pronoun_phrase() -> None:
    assert rules("[attacker: Gunmen] killed [target: four of them].") == ["pronoun-phrase"]
    assert rules("[attacker: Gunmen] killed [target: two of his bodyguards].") == []
    # a pronoun-like word inside a name
    assert rules("[attacker: Umkhonto we Sizwe] bombed [target: the depot].") == []


def test_coordination() -> None:
    assert rules("[attacker: Gunmen] killed [target: a mother and her daughter].") == ["coordination"]
    assert rules("[attacker: Gunmen] killed [target: more than 40 women and children].") == []
    assert rules("[attacker: three or four young men] attacked [target: the shop].") == []


def test_appositive() -> None:
    assert rules("[attacker: Gunmen] killed [target: the imam, Hamadoun Barry].") == ["appositive"]
    assert rules("[attacker: Gunmen] killed [target: the imam], [target: Hamadoun Barry].") == []


def test_nested_place() -> None:
    assert rules("[attacker: Rebels] bombed [target: the station in [location: Kalu]].") == ["nested-place"]
    assert rules("[attacker: Rebels] bombed [target: the station] in [location: Kalu].") == []


def test_sentence_boundary() -> None:
    found = rules("[attacker: Rebels] bombed [target: the station. The market] too.")
    assert found == ["sentence-boundary"]
    # abbreviations and initials are not boundaries
    assert rules("[attacker: Ahmed K. Musa] shot [target: Mr. Bello].") == []
    assert rules("[attacker: Rebels] bombed [target: the U.S. Embassy] at [time: 9 a.m. Monday].") == []
    assert rules("[attacker: Gunmen] shot [target: Mr D. P. Wickramasinghe].") == []  # two initials in a row
    assert rules("[attacker: Gunmen] shot [target: Ing. Carlos Ruiz].") == []


def test_missed_mention() -> None:
    document = doc("[attacker: The rebel army] shelled [target: Kalu]. The rebel army denied it.")
    found = ca.check_document(document)
    assert [f.rule for f in found] == ["missed-mention"]
    assert found[0].start == document.text.index("The rebel army", 1) and found[0].role == "attacker"
    # one-word strings are not checked; annotated repetitions are fine
    assert rules("[attacker: Rebels] shelled [target: Kalu]. Rebels denied it.") == []
    assert rules("[attacker: The rebel army] shelled [target: Kalu]. [attacker: the rebel army] denied it.") == []


def test_missing_role() -> None:
    assert rules("A [weapon: bomb] exploded in [location: Kalu] on [time: Sunday].") == ["missing-role", "missing-role"]
    assert rules("[attacker: Rebels] fired at [location: Kalu].") == ["missing-role"]


# ---------------------------------------------------------------- command line


def _write(tmp_path: Path, *docs: Document) -> Path:
    path = tmp_path / "c.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        write_jsonl(list(docs), handle)
    return path


def test_exit_code_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = _write(tmp_path, doc(CLEAN))
    assert ca.main([str(clean)]) == 0
    warned = _write(tmp_path, doc("[attacker: Rebels] fired at [location: Kalu]."))
    assert ca.main([str(warned)]) == 0  # warnings only
    bad = _write(tmp_path, doc(CLEAN), doc("[attacker: Rebels] fired [weapon: a rocket] at [target: Kalu].", doc_id="t-002"))
    capsys.readouterr()
    assert ca.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "weapon-determiner" in out and "t-002" in out and "«a rocket»" in out


def test_json_and_batch_filter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        doc("[attacker: Rebels] fired [weapon: a rocket] at [target: Kalu].", doc_id="aa-001"),
        doc(CLEAN, doc_id="bb-001"),
    )
    assert ca.main([str(path), "--batch", "bb", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["articles"] == 1 and data["hard_failures"] == 0
    assert ca.main([str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["weapon-determiner"] == 1 and data["findings"][0]["doc_id"] == "aa-001"
