"""The standard Hugging Face token-classification recipe, reproduced as the accuracy baseline.

Why it exists (issue 8): "the tagger beats the usual fine-tuning recipe" is only a claim if the
recipe is written down and its output is scored by the same scorer as the project's models. So
this module does what the Hugging Face token-classification tutorial does (with the Trainer's
default learning rate 5e-5 and weight decay 0 unless told otherwise; the course sets 2e-5 and
0.01), and nothing the project's own trainer adds (windows over whole documents, one B/I/O head
per role, partial annotation, checkpoints, early stopping):

- each document is cut into sentences (a simple splitter over the project's words, so every
  offset stays an offset into the original text; MUC-4 text is lower-cased, so it cannot rely
  on capitals);
- words are the project's backbone-independent words (``eventroles.data.words``);
- one flat label per word from ``O``, ``B-role``, ``I-role`` over the roles the training split
  annotates. One label per word cannot hold overlapping spans, so where spans overlap (any
  roles) the longer one is kept, then the earlier one, and the drops are counted;
- the tokenizer gets the words with ``is_split_into_words=True``; ``word_ids()`` puts each
  word's label on its first subword and ``-100`` on the others and on special tokens; sentences
  are truncated at ``max_length`` subwords (the cut words get no label and no prediction);
- ``AutoModelForTokenClassification`` on the backbone, ``DataCollatorForTokenClassification``
  and ``transformers.Trainer`` with its defaults (AdamW, linear decay, no warm-up, no weight
  decay), ``num_train_epochs`` epochs, seqeval on the dev split after each epoch;
- the test split is predicted sentence by sentence: the argmax label of each word's first
  subword, read back into spans the lenient seqeval way (an ``I-`` without a ``B-`` starts a
  span), written as the project's JSON lines with character offsets into the original text.

What the recipe knows nothing about, as in the tutorial: documents whose corpus leaves a role
unannotated (MUC-4's silver location/time layer) are trained with ``O`` for that role.

``run_recipe`` is quiet: it reports through ``log`` and returns a JSON-ready dict.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from eventroles.data.document import Document, Span
from eventroles.data.problems import CorpusNotFoundError
from eventroles.data.readers.jsonl import document_to_json, json_line
from eventroles.data.registry import CORPORA, source_files
from eventroles.data.roles import ROLES
from eventroles.data.words import Words

from . import corpora
from .config import CorpusConfig
from .progress import beside_bars

OUTSIDE = "O"
IGNORE = -100
WordSpan = tuple[int, int, str]  # word indices [first, last) and role

# A "." after one of these (or after a single letter: initials, "u.s.") does not end a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen col lt sgt capt maj cmdr adm gov sen rep pres st jr sr no vs etc "
    "inc corp co ltd dept jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
SENTENCE_ENDS = frozenset(".!?")


class RecipeError(Exception):
    """A corpus the recipe cannot run on (missing split, nothing to train on); says why."""


# --------------------------------------------------------------------------- sentences and labels


def split_sentences(text: str, words: Words) -> list[tuple[int, int]]:
    """Word ranges ``[first, last)`` of the sentences of ``text``.

    A sentence ends after a ``.``, ``!`` or ``?`` word that is followed by whitespace (so "3.5"
    and "u.s.-backed" do not end one), unless the ``.`` follows a single letter or a common
    abbreviation; and at a blank line. Working on words keeps every offset in the original text
    and never cuts a word in two.
    """
    sentences: list[tuple[int, int]] = []
    first = 0
    n = len(words)
    for i in range(n):
        if i + 1 == n:
            break
        gap = text[words.ends[i] : words.starts[i + 1]]
        end_here = False
        if gap.count("\n") >= 2:
            end_here = True
        elif text[words.starts[i] : words.ends[i]] in SENTENCE_ENDS and gap:
            previous = text[words.starts[i - 1] : words.ends[i - 1]] if i > first else ""
            glued = i > first and words.ends[i - 1] == words.starts[i]
            abbreviation = (
                text[words.starts[i] : words.ends[i]] == "."
                and glued
                and (len(previous) == 1 and previous.isalpha() or previous.lower() in ABBREVIATIONS)
            )
            end_here = not abbreviation
        if end_here:
            sentences.append((first, i + 1))
            first = i + 1
    if first < n:
        sentences.append((first, n))
    return sentences


def flat_word_spans(doc: Document, roles: Sequence[str]) -> tuple[list[WordSpan], int, int]:
    """The spans of ``roles`` as non-overlapping word spans, for one label per word.

    Longest first, then earliest (then the document's span order), as ``metrics.non_overlapping``
    does within a role, here across all roles. Returns the kept spans in text order, how many
    were dropped for overlapping a kept one, and how many cover no word at all.
    """
    candidates: list[WordSpan] = []
    wordless = 0
    for span in doc.spans:
        if span.role not in roles:
            continue
        covered = doc.words.covering(span.start, span.end)
        if covered is None:
            wordless += 1
            continue
        candidates.append((covered[0], covered[1], span.role))
    kept: list[WordSpan] = []
    dropped = 0
    for first, last, role in sorted(candidates, key=lambda s: (s[0] - s[1], s[0])):
        if any(k[0] < last and first < k[1] for k in kept):
            dropped += 1
        else:
            kept.append((first, last, role))
    return sorted(kept), dropped, wordless


def bio_labels(n_words: int, spans: Sequence[WordSpan]) -> list[str]:
    """One IOB2 label per word from non-overlapping word spans."""
    labels = [OUTSIDE] * n_words
    for first, last, role in spans:
        labels[first] = f"B-{role}"
        for i in range(first + 1, last):
            labels[i] = f"I-{role}"
    return labels


def sentence_labels(labels: Sequence[str], first: int, last: int) -> list[str]:
    """The labels of one sentence; a span cut by the sentence split restarts with ``B-``."""
    out = list(labels[first:last])
    if out and out[0].startswith("I-"):
        out[0] = "B-" + out[0][2:]
    return out


def labels_to_spans(labels: Sequence[str]) -> list[WordSpan]:
    """Word spans from IOB labels, leniently: ``I-x`` after anything but ``B-x``/``I-x`` starts
    a span (as seqeval's default mode and the conlleval script read it)."""
    spans: list[WordSpan] = []
    start: int | None = None
    role = ""
    for i, label in enumerate([*labels, OUTSIDE]):
        prefix, _, tag = label.partition("-")
        continues = prefix == "I" and start is not None and tag == role
        if start is not None and not continues:
            spans.append((start, i, role))
            start = None
        if prefix in ("B", "I") and not continues:
            start, role = i, tag
    return spans


def label_list(roles: Sequence[str]) -> list[str]:
    """``O`` then ``B-``/``I-`` for each role, in the schema's role order."""
    return [OUTSIDE] + [f"{p}-{r}" for r in ROLES if r in roles for p in ("B", "I")]


@dataclass
class SentenceSet:
    """The sentences of some documents as ``datasets`` columns, plus where each came from."""

    columns: dict[str, list[Any]]
    origin: list[tuple[int, int, int]]  # (document index, first word, last word)
    counts: dict[str, int]


def build_sentences(docs: Sequence[Document], roles: Sequence[str] | None) -> SentenceSet:
    """Sentence examples; with ``roles`` also their gold labels (training and dev)."""
    columns: dict[str, list[Any]] = {"id": [], "words": []}
    if roles is not None:
        columns["tags"] = []
    origin: list[tuple[int, int, int]] = []
    counts = {"documents": len(docs), "sentences": 0, "words": 0}
    if roles is not None:
        counts.update(spans=0, spans_dropped_overlap=0, spans_without_words=0, spans_cut_by_sentence_split=0)
    for d, doc in enumerate(docs):
        words = doc.words
        sentences = split_sentences(doc.text, words)
        labels: list[str] = []
        if roles is not None:
            spans, dropped, wordless = flat_word_spans(doc, roles)
            labels = bio_labels(len(words), spans)
            counts["spans"] += len(spans)
            counts["spans_dropped_overlap"] += dropped
            counts["spans_without_words"] += wordless
            counts["spans_cut_by_sentence_split"] += sum(
                1 for first, last, _ in spans if any(first < s < last for s, _ in sentences)
            )
        for s, (first, last) in enumerate(sentences):
            columns["id"].append(f"{doc.id}#{s}")
            columns["words"].append([doc.text[words.starts[i] : words.ends[i]] for i in range(first, last)])
            if roles is not None:
                columns["tags"].append(sentence_labels(labels, first, last))
            origin.append((d, first, last))
            counts["words"] += last - first
        counts["sentences"] += len(sentences)
    return SentenceSet(columns, origin, counts)


def tokenize_and_align(
    batch: dict[str, list[Any]], tokenizer: Any, label2id: dict[str, int] | None, max_length: int
) -> dict[str, Any]:
    """The tutorial's ``tokenize_and_align_labels``: first subword of each word gets its label.

    Also keeps ``word_index`` (the word whose first subword a token is, else -1) for reading the
    predictions back, and ``truncated_words`` (words cut off by ``max_length``).
    """
    encoded = tokenizer(batch["words"], is_split_into_words=True, truncation=True, max_length=max_length)
    word_index: list[list[int]] = []
    labels: list[list[int]] = []
    truncated: list[int] = []
    for i, words in enumerate(batch["words"]):
        previous = None
        firsts: list[int] = []
        row: list[int] = []
        for word in encoded.word_ids(batch_index=i):
            if word is None or word == previous:
                firsts.append(-1)
                row.append(IGNORE)
            else:
                firsts.append(word)
                row.append(label2id[batch["tags"][i][word]] if label2id is not None else IGNORE)
            previous = word
        seen = [w for w in firsts if w >= 0]
        truncated.append(len(words) - 1 - max(seen) if seen and len(encoded["input_ids"][i]) >= max_length else 0)
        word_index.append(firsts)
        labels.append(row)
    out = dict(encoded)
    out["word_index"] = word_index
    out["truncated_words"] = truncated
    if label2id is not None:
        out["labels"] = labels
    return out


# --------------------------------------------------------------------------- corpora


def recipe_corpus(corpus: str) -> CorpusConfig:
    """The recipe's corpus argument as a config entry, so it is read exactly as the trainer reads it."""
    path = Path(corpus).expanduser()
    if path.is_dir():
        return CorpusConfig(path=path)
    if ":" in corpus:
        raise RecipeError(f"give the corpus without a split ({corpus.split(':')[0]!r}); the recipe reads train, dev and test")
    if corpus not in CORPORA:
        raise RecipeError(f"unknown corpus {corpus!r}; known corpora: {', '.join(CORPORA)}, or a folder of SPLIT.jsonl files")
    return CorpusConfig(name=corpus)


def load_split(corpus: str, split: str) -> list[Document]:
    """``split`` of a registry corpus (``muc4``) or of a folder holding ``SPLIT.jsonl`` files."""
    entry = recipe_corpus(corpus)
    if entry.path is not None and not (entry.path / f"{split}.jsonl").is_file():  # not "split of the config": there is none
        raise RecipeError(f"{corpus}: the folder has no {split}.jsonl (the recipe reads train.jsonl, dev.jsonl and "
                          "the --test-split, test.jsonl by default)")
    try:
        return corpora.load_split(entry, split)[0]
    except CorpusNotFoundError as err:
        raise RecipeError(str(err)) from None


def has_split(corpus: str, split: str) -> bool:
    try:
        return corpora.has_split(recipe_corpus(corpus), split)
    except RecipeError:
        return False


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """Silence transformers' warnings and datasets' progress bars for the run, then restore."""
    import datasets
    import transformers

    verbosity = transformers.logging.get_verbosity()
    bars = datasets.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def _build_model(backbone: str, random_backbone: dict | None, labels: list[str], vocab_size: int) -> Any:
    from transformers import AutoModelForTokenClassification

    from eventroles.models.backbone import (
        BackboneError, RandomBackbone, load_pretrained, quiet_transformers, random_bert_config, backbone_source,
    )

    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    if random_backbone is not None:
        config = random_bert_config(RandomBackbone(**random_backbone), vocab_size, num_labels=len(labels),
                                    id2label=id2label, label2id=label2id)
        return AutoModelForTokenClassification.from_config(config)
    source = backbone_source(backbone)
    try:
        with quiet_transformers():  # no loading bar or report table, also under --no-progress
            return load_pretrained(
                AutoModelForTokenClassification, source, num_labels=len(labels), id2label=id2label, label2id=label2id
            )
    except Exception as error:  # OSError, ValueError, and safetensors' own error for a truncated file
        raise BackboneError(f"could not load backbone {backbone!r} ({source}): {error}") from None


def _seqeval_metrics(id2label: dict[int, str]) -> Callable[[Any], dict[str, float]]:
    """The tutorial's ``compute_metrics``: seqeval's default (lenient) entity scores."""

    def compute(prediction: Any) -> dict[str, float]:
        import numpy as np
        from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

        guesses = np.argmax(prediction.predictions, axis=-1)
        y_true: list[list[str]] = []
        y_pred: list[list[str]] = []
        for guess_row, gold_row in zip(guesses, prediction.label_ids):
            keep = [(g, p) for g, p in zip(gold_row, guess_row) if g != IGNORE]
            y_true.append([id2label[int(g)] for g, _ in keep])
            y_pred.append([id2label[int(p)] for _, p in keep])
        return {
            "precision": float(precision_score(y_true, y_pred, zero_division=0)),
            "recall": float(recall_score(y_true, y_pred, zero_division=0)),
            "f1": float(f1_score(y_true, y_pred, zero_division=0)),
            "accuracy": float(accuracy_score(y_true, y_pred)),
        }

    return compute


def _log_callback(log: Callable[[str], None], history: list[dict[str, Any]]) -> Any:
    from transformers import TrainerCallback

    class LogToCaller(TrainerCallback):
        """Hands the Trainer's per-epoch logs to ``log`` instead of printing them."""

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
            if not logs:
                return
            history.append(dict(logs))
            shown = ", ".join(
                f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                for key, value in logs.items()
                if key in ("loss", "eval_loss", "eval_f1", "eval_precision", "eval_recall", "train_loss")
            )
            if shown:
                log(f"epoch {logs.get('epoch', '?')}: {shown}")

    return LogToCaller()


def _length(loader: Any) -> int | None:
    """Batches in a data loader, or None for one without a length (a streamed dataset)."""
    from transformers.trainer_utils import has_length

    return len(loader) if has_length(loader) else None


def _progress_callback() -> Any:
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class StepBar(TrainerCallback):
        """One bar over the optimizer steps of the whole run (the Trainer's own bar is off: it also
        prints every log dict, which ``LogToCaller`` already reports one line per epoch); the batches
        of each dev evaluation are counted on it, and the test prediction has a bar of its own (about
        25 s each on MUC-4, which otherwise passed in silence)."""

        bar: Any = None
        batches: Any = None  # the test prediction's bar
        dev_batches = 0

        def on_prediction_step(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None,
                               **kwargs: Any) -> None:
            if not state.is_local_process_zero or eval_dataloader is None:
                return
            if self.bar is not None:  # a dev evaluation inside training: said on the step bar (a second,
                self.dev_batches += 1  # nested bar would glue the epoch lines to its cursor moves)
                self.bar.set_postfix_str(f"dev {self.dev_batches}/{_length(eval_dataloader) or '?'} batches")
                return
            if self.batches is None:
                self.batches = tqdm(total=_length(eval_dataloader), desc="recipe test", unit="batch", dynamic_ncols=True)
            self.batches.update(1)

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.dev_batches = 0
            if self.bar is not None:
                self.bar.set_postfix_str("")

        def on_predict(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.batches is not None:
                self.batches.close()
                self.batches = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_local_process_zero:  # one bar per machine when the Trainer runs several processes
                self.bar = tqdm(total=state.max_steps, desc="recipe", unit="step", dynamic_ncols=True)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StepBar()


def predicted_documents(
    docs: Sequence[Document],
    sentences: SentenceSet,
    word_index: Sequence[Sequence[int]],
    probabilities: Any,
    id2label: dict[int, str],
    roles: Sequence[str],
) -> tuple[list[tuple[Document, dict]], int]:
    """Documents with the predicted spans (and each span's mean label probability).

    A word whose first subword was cut by truncation (or that has no subword) is labelled ``O``;
    returns how many such words there were.
    """
    import numpy as np

    spans: list[list[Span]] = [[] for _ in docs]
    scores: list[dict] = [{} for _ in docs]
    unlabelled = 0
    for row, (d, first, last) in enumerate(sentences.origin):
        doc = docs[d]
        n = last - first
        labels = [OUTSIDE] * n
        confidence = [0.0] * n
        for position, word in enumerate(word_index[row]):
            if word < 0:
                continue
            probs = probabilities[row][position]
            best = int(np.argmax(probs))
            labels[word] = id2label[best]
            confidence[word] = float(probs[best])
        unlabelled += n - sum(1 for w in word_index[row] if w >= 0)
        for start, end, role in labels_to_spans(labels):
            span = Span(doc.words.starts[first + start], doc.words.ends[first + end - 1], role)
            spans[d].append(span)
            scores[d][(span.start, span.end, span.role)] = sum(confidence[start:end]) / (end - start)
    out = [
        (Document(doc.id, doc.text, sorted(spans[d]), frozenset(roles), doc.corpus), scores[d])
        for d, doc in enumerate(docs)
    ]
    return out, unlabelled


def _softmax(logits: Any) -> Any:
    import numpy as np

    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def run_recipe(
    corpus: str,
    predictions: Path,
    *,
    backbone: str = "minilm",
    epochs: float = 3,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.0,
    batch_size: int = 16,
    seed: int = 42,
    max_length: int = 128,
    test_split: str = "test",
    eval_split: str | None = "dev",
    output_dir: Path | None = None,
    random_backbone: dict | None = None,
    roles: Sequence[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Train the standard recipe on ``corpus``'s train split and write ``test_split``'s predictions.

    ``corpus`` is a registry name or a folder with ``train/dev/test.jsonl``; ``predictions`` the
    JSON-lines file to write; ``output_dir`` the Trainer's folder (default: a temporary folder,
    removed after; nothing is saved into it but a run summary, ``recipe.json``);
    ``random_backbone`` (the fields of ``models.backbone.RandomBackbone``) swaps the pretrained
    network for a tiny random BERT, for tests. ``eval_split`` is scored with seqeval after each
    epoch when the corpus has it (``None``: no evaluation). ``roles`` limits training to those of
    the roles the train split annotates (default: all of them), so that the recipe is trained on
    the same roles as the model it is compared with. ``progress`` shows a bar over the training
    steps (a run on MUC-4 takes about 40 minutes on a 2-core CPU). Returns settings, counts,
    per-epoch logs, timings and paths, JSON-ready.
    """
    import datasets
    import torch
    import transformers
    from transformers import DataCollatorForTokenClassification, PrinterCallback, Trainer, TrainingArguments

    from eventroles.models.backbone import RandomBackbone, load_tokenizer

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    target = Path(predictions).expanduser().resolve()
    read = {path.resolve() for split in ("train", "dev", test_split) for path in source_files(f"{corpus}:{split}")}
    if target in read:
        raise RecipeError(f"-o {predictions} is a file of the corpus {corpus}: the predictions would replace it; "
                          "write them somewhere else")
    train_docs = load_split(corpus, "train")
    test_docs = load_split(corpus, test_split)
    use_eval = eval_split is not None and has_split(corpus, eval_split)
    eval_docs = load_split(corpus, eval_split) if use_eval and eval_split is not None else []
    if not train_docs:
        raise RecipeError(f"{corpus}: the train split has no documents")
    annotated = [r for r in ROLES if any(r in doc.roles for doc in train_docs)]
    if roles is not None:
        unknown = [r for r in roles if r not in annotated]
        if unknown:
            raise RecipeError(f"{corpus}: the train split does not annotate {', '.join(unknown)} "
                              f"(it annotates {', '.join(annotated) or 'no role'})")
    roles = [r for r in annotated if roles is None or r in roles]
    if not roles:
        raise RecipeError(f"{corpus}: the train split annotates no role")
    labels = label_list(roles)
    label2id = {label: i for i, label in enumerate(labels)}
    id2label = dict(enumerate(labels))
    timings["load_s"] = time.perf_counter() - clock
    evaluated = f"{len(eval_docs)} {eval_split}" if use_eval else "no evaluation"
    log(
        f"{corpus}: {len(train_docs)} train, {evaluated}, {len(test_docs)} {test_split} documents; "
        f"labels {', '.join(labels)}"
    )

    with _quiet_libraries(), tempfile.TemporaryDirectory(prefix="hf-recipe-") as scratch:
        run_dir = Path(output_dir) if output_dir is not None else Path(scratch)
        clock = time.perf_counter()
        tokenizer_name = RandomBackbone(**random_backbone).tokenizer if random_backbone is not None else backbone
        tokenizer = load_tokenizer(tokenizer_name)

        def encode(sentences: SentenceSet, with_labels: bool) -> Any:
            dataset = datasets.Dataset.from_dict(sentences.columns)
            return dataset.map(
                tokenize_and_align,
                batched=True,
                fn_kwargs={"tokenizer": tokenizer, "label2id": label2id if with_labels else None, "max_length": max_length},
                remove_columns=dataset.column_names,
            )

        train_sentences = build_sentences(train_docs, roles)
        test_sentences = build_sentences(test_docs, None)
        train_set = encode(train_sentences, True)
        test_set = encode(test_sentences, False)
        eval_set = encode(build_sentences(eval_docs, roles), True) if use_eval and eval_docs else None
        timings["tokenize_s"] = time.perf_counter() - clock

        transformers.set_seed(seed)
        model = _build_model(backbone, random_backbone, labels, len(tokenizer))
        positions = getattr(model.config, "max_position_embeddings", None)
        if positions is not None and max_length > positions:
            raise RecipeError(f"--max-length {max_length}: the backbone has {positions} positions; give at most {positions}")
        use_cpu = not torch.cuda.is_available()
        args = TrainingArguments(
            output_dir=str(run_dir),
            num_train_epochs=epochs,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            per_device_train_batch_size=batch_size,
            per_device_eval_batch_size=batch_size,
            seed=seed,
            eval_strategy="epoch" if eval_set is not None else "no",
            logging_strategy="epoch",
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=use_cpu,
        )
        history: list[dict[str, Any]] = []
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_set,
            eval_dataset=eval_set,
            processing_class=tokenizer,
            data_collator=DataCollatorForTokenClassification(tokenizer),
            compute_metrics=_seqeval_metrics(id2label) if eval_set is not None else None,
            callbacks=[_log_callback(beside_bars(log), history)] + ([_progress_callback()] if progress else []),
        )
        trainer.remove_callback(PrinterCallback)
        clock = time.perf_counter()
        train_output = trainer.train()
        timings["train_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        if len(test_set):
            probabilities = _softmax(trainer.predict(test_set).predictions)
            word_index = test_set["word_index"]
        else:  # every test document is empty: nothing to run the model on
            probabilities, word_index = [], []
        docs, unlabelled = predicted_documents(test_docs, test_sentences, word_index, probabilities, id2label, roles)
        timings["predict_s"] = time.perf_counter() - clock

        predictions = Path(predictions)
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with predictions.open("w", encoding="utf-8") as handle:
            for doc, scores in docs:
                handle.write(json_line(document_to_json(doc, scores)))

        result: dict[str, Any] = {
            "corpus": corpus,
            "splits": {"train": "train", "eval": eval_split if eval_set is not None else None, "test": test_split},
            "recipe": {
                "backbone": backbone if random_backbone is None else {"random": dict(random_backbone)},
                "model": type(model).__name__,
                "labels": labels,
                "epochs": epochs,
                "learning_rate": learning_rate,
                "batch_size": batch_size,
                "seed": seed,
                "max_length": max_length,
                "optimizer": getattr(args.optim, "value", str(args.optim)),
                "lr_scheduler": getattr(args.lr_scheduler_type, "value", str(args.lr_scheduler_type)),
                "warmup_steps": args.warmup_steps,
                "weight_decay": args.weight_decay,
                "device": str(args.device),
            },
            "counts": {
                "train": {**train_sentences.counts, "truncated_words": int(sum(train_set["truncated_words"]))},
                "test": {
                    **test_sentences.counts,
                    "truncated_words": int(sum(test_set["truncated_words"])) if len(test_set) else 0,
                    "words_without_prediction": unlabelled,
                    "predicted_spans": sum(len(doc.spans) for doc, _ in docs),
                },
                "optimizer_steps": int(train_output.global_step),
            },
            "history": history,
            "train_loss": float(train_output.training_loss),
            "timings_s": {k: round(v, 3) for k, v in timings.items()},
            "paths": {"predictions": str(predictions), "output_dir": str(output_dir) if output_dir is not None else None},
            "versions": {"transformers": transformers.__version__, "datasets": datasets.__version__, "torch": torch.__version__},
        }
        if output_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "recipe.json").write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    log(f"wrote {len(docs)} documents to {predictions}")
    return result
