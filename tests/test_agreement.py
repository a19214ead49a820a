"""tools/agreement.py: second-pass parsing, the sample draw and the span agreement scores."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from eventroles.data.document import Document, Span

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("agreement", ROOT / "tools" / "agreement.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("agreement", module)
    spec.loader.exec_module(module)
    return module


ag = _load()

SECOND = """=== aa-001 | region: Mali | year: 2012 | style: wire | type: bombing
[attacker: Rebels] bombed [target: the market in Gao] on [time: Sunday].

=== bb-002 | region: Peru | year: 1990 | style: local | type: none
The council met on Monday.
"""


def test_parses_articles_of_several_batches() -> None:
    articles = ag.parse_second_pass(SECOND)
    assert [a.id for a in articles] == ["aa-001", "bb-002"]
    assert articles[0].text == "Rebels bombed the market in Gao on Sunday."
    assert [a.role for a in articles[0].spans] == ["attacker", "target", "time"]
    assert articles[1].spans == []


def test_scores_exact_overlap_and_differing_spans() -> None:
    articles = ag.parse_second_pass(SECOND)
    text = articles[0].text
    reference = {
        "aa-001": Document(
            "aa-001",
            text,
            [Span(0, 6, "attacker"), Span(14, 24, "target"), Span(28, 31, "location"), Span(35, 41, "time")],
        ),
        "bb-002": Document("bb-002", articles[1].text, []),
    }
    totals, problems = ag.agreement(reference, articles)
    assert problems == []
    assert (totals["attacker"].exact, totals["attacker"].overlap) == (1, 1)
    # "the market" vs "the market in Gao": a boundary difference, matched only by overlap
    assert (totals["target"].exact, totals["target"].overlap) == (0, 1)
    assert (totals["location"].gold, totals["location"].pred) == (1, 0)
    everything = totals["all"]
    assert (everything.gold, everything.pred, everything.exact, everything.overlap) == (4, 3, 2, 3)
    # distinct spans: 4 + 3 - 2 = 5, of which 3 are in one annotation only
    assert abs(everything.differ() - 3 / 5) < 1e-9
    assert abs(everything.exact_prf()[2] - 2 * 2 / 7) < 1e-9


def test_text_mismatch_is_a_problem() -> None:
    articles = ag.parse_second_pass(SECOND)
    reference = {"aa-001": Document("aa-001", "Rebels bombed the market in Gao on Monday.", []), "bb-002": Document("bb-002", articles[1].text, [])}
    _, problems = ag.agreement(reference, articles)
    assert len(problems) == 1 and "aa-001" in problems[0]


def test_the_draw_is_deterministic_and_limited_to_the_batches() -> None:
    ids = [f"{batch}-{n:03d}" for batch in ("afr", "amer", "hist") for n in range(1, 41)]
    first = ag.draw_sample(ids)
    assert first == ag.draw_sample(list(reversed(ids)))
    assert len(first) == 30 and not any(i.startswith("hist-") for i in first)


def test_the_shipped_second_pass_matches_the_corpus_text() -> None:
    corpus = ag.load_corpus()
    second = ag.parse_second_pass(ag.DEFAULT_SECOND.read_text(encoding="utf-8"))
    assert len(second) == 30
    _, problems = ag.agreement(corpus, second)
    assert problems == []
