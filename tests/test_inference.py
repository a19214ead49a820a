"""The Python API (``Tagger``) on the smoke model, and window merging on a controlled model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eventroles.data.document import Document
from eventroles.data.roles import ROLES
from eventroles.models.inference import Tagger

EVENT = "On Sunday, the militia struck the power station near Oslen using drones."
TRICKY = [
    EVENT,
    "On 3 March 1998,\r\nGovernment troops struck villagers near Kalu\tusing rifles.\r\n",
    "Le  maire de Sévérac   a été attaqué 🙂🙂 près de Kalu\u00a0lundi — «citation».",
    "\t\t  Gunmen   struck    the mayor\tnear Varna  on Monday night.   \n\n\n",
    "الميليشيا هاجمت القرية near Oslen 😀👍🏽 e\u0301 北京 struck the mayor.",
    "🙂",
    "...",
]


@pytest.fixture(scope="module")
def tagger(smoke_model: Path) -> Tagger:
    return Tagger.load(smoke_model, device="cpu", precision="fp32")


def check_offsets(text: str, spans: list[dict]) -> None:
    doc = Document("x", text)
    starts, ends = set(doc.words.starts), set(doc.words.ends)
    for span in spans:
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert text[span["start"] : span["end"]] == span["text"]
        assert span["start"] in starts and span["end"] in ends, span  # whole words
        assert span["role"] in ROLES and 0.0 <= span["score"] <= 1.0


def test_offsets_round_trip_on_tricky_texts(tagger: Tagger) -> None:
    results = tagger(TRICKY)
    assert len(results) == len(TRICKY)
    for text, spans in zip(TRICKY, results):
        check_offsets(text, spans)
    found = {(s["role"], s["text"]) for s in results[0]}
    assert ("location", "Oslen") in found and ("weapon", "drones") in found


def test_single_text_gives_a_list_of_spans(tagger: Tagger) -> None:
    spans = tagger(EVENT)
    assert isinstance(spans, list) and spans == tagger([EVENT])[0]
    assert tagger("") == [] and tagger([]) == []


def test_pipe_streams_the_same_predictions(tagger: Tagger) -> None:
    docs = [Document(str(i), text) for i, text in enumerate(TRICKY)]
    streamed = list(tagger.pipe(iter(docs), chunk_size=3))
    direct = tagger.predict_documents(docs)
    assert [d.id for d in streamed] == [d.id for d in docs]
    assert [d.spans for d in streamed] == [d.spans for d in direct]


def test_long_article_is_labelled_to_its_end(tagger: Tagger) -> None:
    text = " ".join(["The weather was mild."] * 5000) + " " + EVENT
    assert len(text.split()) > 20_000
    spans = tagger(text)
    check_offsets(text, spans)
    tail = len(text) - len(EVENT)
    assert any(s["role"] == "location" and s["text"] == "Oslen" and s["start"] > tail for s in spans)


# -- window merging with a model whose output is a function of the token id ------------------
class IdDrivenNet(torch.nn.Module):
    """Per token, B, I or O of at most one head from the token id alone: any window sees the same.

    Scores have the trained network's shape: a shared outside score (0) and B/I per head."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, shapes: torch.Tensor | None = None) -> torch.Tensor:
        head = ids % self.heads  # the one head this token may carry a span tag for
        tag = (ids * 3 + head) % 7  # 0..6 -> mostly O, some B and I
        tag = torch.where(tag < 3, tag, torch.zeros_like(tag))
        strength = 2.0 + (ids % 5).float() * 0.5  # varied scores
        chosen = torch.nn.functional.one_hot(head, self.heads).bool().unsqueeze(-1)  # [..., heads, 1]
        span = torch.nn.functional.one_hot(tag, 3)[..., 1:].bool().unsqueeze(-2)  # [..., 1, 2]
        scores = torch.full((*ids.shape, self.heads, 3), -4.0)
        scores[..., 0] = 0.0
        scores[..., 1:] = torch.where(chosen & span, strength[..., None, None], torch.tensor(-4.0))
        return scores


def controlled(smoke_model: Path, **options) -> Tagger:
    tagger = Tagger.load(smoke_model, device="cpu", precision="fp32", **options)
    tagger.model = IdDrivenNet(len(tagger.meta.tagset.tags))
    return tagger


LONG = " ".join(
    f"On day {i} the militia of Kalu-{i % 7} struck {i * 13 % 97} villagers near Oslen using rifles."
    for i in range(40)
)


def test_windows_merge_without_losing_or_duplicating_spans(smoke_model: Path) -> None:
    small = controlled(smoke_model, max_length=16, stride=4)
    big = controlled(smoke_model)
    big.max_length = 100_000  # one window: the id-driven stand-in network has no position limit
    docs = [Document("long", LONG)]
    assert len(small.preprocess(docs).bounds[0]) > 30  # many windows
    assert len(big.preprocess(docs).bounds[0]) == 1
    windowed, whole = small.predict_documents(docs)[0], big.predict_documents(docs)[0]
    assert len(whole.spans) > 50
    assert windowed.spans == whole.spans
    assert len(set(windowed.spans)) == len(windowed.spans)
    assert len(set(whole.meta["span_scores"].values())) > 1
    offsets = small.tokenizer(LONG, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    joins = [offsets[start][0] for start, _ in small.preprocess(docs).bounds[0][1:]]
    crossing = [s for s in whole.spans if any(s.start < j < s.end for j in joins)]
    assert crossing  # some spans straddle a window join
    assert windowed.meta["span_scores"] == pytest.approx(whole.meta["span_scores"])
    last_word_end = whole.words.ends[-1]
    assert max(s.end for s in whole.spans) > last_word_end - 40  # spans up to the end


def test_length_sorted_batches_keep_documents_apart(smoke_model: Path) -> None:
    small = controlled(smoke_model, max_length=16, stride=4, batch_size=5)
    texts = [LONG, "Gunmen struck the mayor.", LONG[: len(LONG) // 3], "", TRICKY[2]]
    together = small(texts)
    alone = [small(text) for text in texts]
    assert together == alone


def test_window_settings_the_backbone_cannot_run_are_refused(smoke_model: Path) -> None:
    with pytest.raises(ValueError, match="max_length 600: the backbone has 512 positions"):
        Tagger.load(smoke_model, device="cpu", precision="fp32", max_length=600)  # failed on some documents only
    with pytest.raises(ValueError, match="stride 64 must be smaller than max_length - 2"):
        Tagger.load(smoke_model, device="cpu", precision="fp32", max_length=32, stride=64)  # was 30 times the work


def test_a_text_that_is_not_valid_unicode_is_named(tagger: Tagger) -> None:
    docs = [Document("fine", "Gunmen struck the mayor."), Document("broken", "\ud800 Kabul")]
    with pytest.raises(ValueError, match="document 'broken': its text holds an unpaired surrogate at character 0"):
        tagger.predict_documents(docs)


@pytest.mark.parametrize("separator", ["\x0b", "\x0c", "\x1f", "\x85", "\u200b", "\u200e"])
def test_a_separator_the_tokenizer_deletes_still_splits_words(smoke_model: Path, separator: str) -> None:
    # Word exports a manual line break as a vertical tab; BERT's normaliser deletes it, and the
    # words either side reached the backbone as one ("kolofataearly"): spans changed with it.
    tagger = controlled(smoke_model)
    spaced = "Gunmen struck the police post near Kolofata early on Tuesday and fled into the hills."
    odd = spaced.replace(" ", separator)
    expected = [(s["start"], s["end"], s["role"]) for s in tagger(spaced)]
    assert expected
    assert [(s["start"], s["end"], s["role"]) for s in tagger(odd)] == expected
    for span in tagger(odd):
        assert odd[span["start"] : span["end"]] == span["text"]


def test_inputs_of_the_wrong_type_are_refused_by_name(tagger: Tagger) -> None:
    with pytest.raises(TypeError, match="not dict"):  # it tagged the keys "id" and "text"
        tagger({"id": "a1", "text": EVENT})
    with pytest.raises(TypeError, match="not set"):  # results in an order no one can match back
        tagger({EVENT, "Gunmen struck the mayor."})
    with pytest.raises(TypeError, match="not bytes: decode it first"):
        tagger(EVENT.encode())
    with pytest.raises(TypeError, match="item 1 is a NoneType"):
        tagger([EVENT, None])
    with pytest.raises(TypeError, match="not int"):
        tagger(5)
    with pytest.raises(TypeError, match="item 0 is a str: call the tagger itself on strings"):
        tagger.predict_documents([EVENT])
    with pytest.raises(TypeError, match="Document id must be a str, not int"):
        Document(7, EVENT)  # three of the four writers failed on it after labelling


def test_predict_documents_takes_any_iterable_as_pipe_does(tagger: Tagger) -> None:
    docs = [Document(str(i), text) for i, text in enumerate(TRICKY)]
    from_generator = tagger.predict_documents(doc for doc in docs)
    assert [d.spans for d in from_generator] == [d.spans for d in tagger.predict_documents(docs)]


def test_tagger_options_that_cannot_run_are_refused(smoke_model: Path, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="batch_size must be a whole number of windows, 1 or more"):
        Tagger.load(smoke_model, device="cpu", batch_size=0, max_tokens=None)
    with pytest.raises(ValueError, match="max_tokens must be 1 or more"):
        Tagger.load(smoke_model, device="cpu", max_tokens=0)
    with pytest.raises(ValueError, match="stride -1: .* cannot be negative"):
        Tagger.load(smoke_model, device="cpu", stride=-1)
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'"):
        Tagger.load(smoke_model, device="gpu")
    monkeypatch.setenv("HOME", str(smoke_model.parent))
    assert Tagger.load(f"~/{smoke_model.name}", device="cpu").meta.tagset == Tagger.load(smoke_model, device="cpu").meta.tagset


def test_the_readme_python_example_runs(tagger: Tagger) -> None:
    from eventroles import Document as PublicDocument, span_dicts

    rows = [(7, EVENT), (8, TRICKY[1])]
    streamed = {doc.id: span_dicts(doc) for doc in tagger.pipe(PublicDocument(str(i), text) for i, text in rows)}
    assert streamed == {"7": tagger(EVENT), "8": tagger(TRICKY[1])}
