"""Continued masked-language-model pretraining of the backbone on the corpora's own texts.

Why: the packaged MiniLM was distilled and then tuned for sentence embeddings on modern web
text; conflict news (MUC-4's lower-cased 1989-91 wire copy, WikiEvents' reports) uses other
words and other names. ConfliBERT (Hu et al., NAACL 2022) and "Don't stop pretraining"
(Gururangan et al., ACL 2020) gain by a few epochs of masked-word prediction on in-domain text
before fine-tuning. Only the *training* splits' texts of a config's corpora are read (never
dev or test), so the fine-tuned model's dev and test scores stay honest.

The output folder is an ordinary Hugging Face backbone (config.json, model.safetensors,
tokenizer files) to name as ``model.backbone`` in a training config. The masked-LM head
(random at the start: the packaged checkpoint has none) is not saved.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from eventroles.data.document import Document
from eventroles.data.features import special_ids
from eventroles.data.problems import ReadReport
from eventroles.data.words import separators_as_spaces, split_words
from eventroles.models.backbone import (
    ATTENTION_DROPOUT_KEYS,
    load_pretrained,
    BackboneError,
    load_tokenizer,
    quiet_transformers,
    backbone_source,
)
from eventroles.models.storage import foreign_files, replace_folder, saved_files

from .config import Config, ConfigError
from .corpora import leak_note, load_split, note_leaks
from .optimizer import adamw_kind, new_adamw
from .progress import beside_bars


@dataclass(frozen=True)
class PretrainSettings:
    """How long and how hard to pretrain; the defaults fit MUC-4 in about 20 minutes on 2 cores."""

    epochs: float = 4.0
    learning_rate: float = 1e-4
    batch_size: int = 16
    max_length: int = 256
    mlm_probability: float = 0.15
    warmup_ratio: float = 0.06
    seed: int = 13


@dataclass
class PretrainResult:
    folder: Path
    documents: int
    subwords: int
    chunks: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    precision: str
    device: str


HELD_OUT_NAMES = ("dev", "test")


def training_texts(config: Config, log: Callable[[str], None] | None = None) -> list[str]:
    """Every training-split text of the config's corpora, in config order (dev/test never).

    A ``train:`` list naming dev, test or one of the corpus's ``dev:`` splits is refused: the
    backbone would have read the texts the tagger is scored on. A training text that is also in a
    held-out split (upstream duplicates, as in WikiEvents) is kept, as training keeps it, with a
    warning naming both ids."""
    texts = []
    for index, corpus in enumerate(config.data.corpora):
        held_out = sorted({s for s in corpus.train if s in HELD_OUT_NAMES or s in corpus.dev})
        if held_out:
            raise ConfigError(f"data.corpora.{index} ({corpus.label}): train lists {', '.join(held_out)}; pretraining "
                              "reads training splits only, never the texts a model is chosen or scored on: remove it")
        docs: list[Document] = []
        for split in corpus.train:
            docs += load_split(corpus, split)[0]
        report = ReadReport()
        note_leaks(corpus, docs, report)
        leaks = leak_note(corpus.label, report)
        if leaks and log is not None:
            log(f"warning: {leaks}")
        texts += [doc.text for doc in docs if doc.text.strip()]
    return texts


def pack_chunks(
    token_ids: Sequence[Sequence[int]], length: int, cls_id: int, sep_id: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Documents' subword ids, concatenated with [SEP] between them and cut into ``length``-long
    rows that each start with [CLS] and end with [SEP] (BERT's pretraining input); returns the
    rows (padded with ``pad_id``) and their attention masks. Every subword lands in a row."""
    content = length - 2
    stream: list[int] = []
    for ids in token_ids:
        if ids:
            stream.extend(ids)
            stream.append(sep_id)
    rows = [stream[i : i + content] for i in range(0, len(stream), content)]
    out = np.full((len(rows), length), pad_id, dtype=np.int64)
    attention = np.zeros((len(rows), length), dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, 0] = cls_id
        out[index, 1 : len(row) + 1] = row
        out[index, len(row) + 1] = sep_id
        attention[index, : len(row) + 2] = 1
    return out, attention


def mask_tokens(
    ids: torch.Tensor, attention: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int,
    probability: float, generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: ``probability`` of the real subwords are predicted; of those 80% become
    [MASK], 10% a random subword, 10% stay. Returns (inputs, labels with -100 elsewhere)."""
    candidates = attention.bool() & ~special
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & candidates
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=generator)
    inputs[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = torch.randint(vocab_size, ids.shape, generator=generator)[swap]
    return inputs, labels


def masked_lm_loss(model: Any, inputs: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at the masked subwords only. Why not the model's own ``labels=`` loss: it
    projects *every* position onto the 30k-word vocabulary, about as many multiply-adds as the
    whole MiniLM encoder; here the projection runs on the 15% of positions that are scored."""
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    if head is None:  # an architecture whose head we do not know: the model's own loss
        return model(input_ids=inputs, attention_mask=attention, labels=labels).loss
    hidden = model.base_model(input_ids=inputs, attention_mask=attention).last_hidden_state
    scored = labels != -100
    logits = head(hidden[scored])
    return torch.nn.functional.cross_entropy(logits.float(), labels[scored])


PRETRAINED_MARK = "eventroles_pretrain.json"  # written into every folder `eventroles pretrain` makes


def check_output(output: Path, source: str) -> None:
    """Refuse, before any training, an output that would destroy something: the backbone being
    read, or an existing folder that `eventroles pretrain` did not write (a downloaded model, a
    backbone other configs use, a folder of the user's). A previous pretraining's folder, or an
    empty folder, is replaced."""
    if output.exists() and Path(source).exists() and output.resolve() == Path(source).resolve():
        raise FileExistsError(f"{output} is the backbone being pretrained; write the new one elsewhere")
    empty = output.is_dir() and not any(output.iterdir())
    if output.exists() and not empty and not (output.is_dir() and (output / PRETRAINED_MARK).is_file()):
        kind = "a backbone folder that eventroles pretrain did not write" if (output / "config.json").is_file() else "not a backbone folder"
        raise FileExistsError(f"{output} exists and is {kind}; choose a new --output (it would be replaced)")
    if output.is_dir() and (output / PRETRAINED_MARK).is_file():
        foreign = foreign_files(output, saved_files(output, PRETRAINED_MARK))
        if foreign:
            raise FileExistsError(f"{output} also holds {', '.join(foreign[:5])}, which eventroles pretrain did not "
                                  "write; the new backbone replaces the folder whole: move them out first")


def pretrain(
    config: Config,
    output: Path,
    settings: PretrainSettings = PretrainSettings(),
    *,
    progress: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> PretrainResult:
    """Masked-LM training of ``config.model.backbone`` on the config's training texts; writes a
    backbone folder at ``output`` (replaced atomically). One process: on one GPU or the CPU."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import AutoConfig, AutoModelForMaskedLM, get_scheduler

    from eventroles.models.precision import emulated_precision_note

    from .trainer import new_accelerator, training_device, training_precision

    if config.model.random is not None:
        raise BackboneError("pretraining needs a pretrained backbone, not model.random")
    if config.model.init_from is not None:
        raise BackboneError("pretraining continues model.backbone, not a trained tagger: leave model.init_from "
                            "unset here (pretrain first, then train with the folder as model.backbone)")
    log = beside_bars(log)  # the loss is logged while the step bar is drawn
    source = backbone_source(config.model.backbone)
    check_output(output, source)
    training = config.training
    if training.threads:
        torch.set_num_threads(training.threads)
    device = training_device(training.device)
    if device.type == "cuda" and device.index is not None:  # accelerate's "cuda" is the current GPU: cuda:1 ran on 0
        torch.cuda.set_device(device)
    mixed = training_precision(training.precision, device)
    accelerator = new_accelerator(device, mixed)
    if accelerator.num_processes > 1:  # each process would pretrain alone and all would write the folder
        raise ConfigError("eventroles pretrain runs in one process: start it with `eventroles pretrain`, not "
                          "accelerate launch or torchrun")
    set_seed(settings.seed)

    texts = training_texts(config, log)
    if not texts:
        raise ConfigError("data.corpora: no training texts (the training splits are empty)")
    tokenizer = load_tokenizer(config.model.backbone)
    # the same text the tagger's tokenizer sees (a vertical tab splits words, not glues them)
    encoded = tokenizer([separators_as_spaces(text, split_words(text)) for text in texts], add_special_tokens=False)["input_ids"]
    cls_id, sep_id, pad_id = special_ids(tokenizer)
    chunks, chunk_attention = pack_chunks(encoded, settings.max_length, cls_id, sep_id, pad_id)
    subwords = int(sum(len(ids) for ids in encoded))
    log(f"pretraining on {len(texts)} training texts: {subwords} subwords in {len(chunks)} rows of "
        f"{settings.max_length}; {mixed if mixed != 'no' else 'fp32'} on {device.type}")
    note = emulated_precision_note(mixed, accelerator.device, "training.precision")
    if note:
        log(note)

    hf_config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    kept_dropout = {key: getattr(hf_config, key) for key in ATTENTION_DROPOUT_KEYS if hasattr(hf_config, key)}
    for key in kept_dropout:  # 0 while pretraining: torch's fused attention kernel (see backbone.py)
        setattr(hf_config, key, 0.0)
    try:
        with quiet_transformers():
            model, info = load_pretrained(AutoModelForMaskedLM, source, config=hf_config, output_loading_info=True)
    except Exception as error:  # OSError, ValueError, and safetensors' own error for a truncated file
        raise BackboneError(f"could not load {config.model.backbone!r} ({source}) for masked-LM training: {error}") from None
    fresh = [key for key in info.get("missing_keys", ()) if "pooler" not in key]
    if fresh:  # expected for checkpoints saved without their masked-LM head (the packaged MiniLM)
        log(f"masked-LM head not in the checkpoint: {len(fresh)} weights start at random "
            f"({', '.join(sorted(fresh)[:3])}{', ...' if len(fresh) > 3 else ''})")

    steps_per_epoch = math.ceil(len(chunks) / settings.batch_size)
    total = max(1, math.ceil(settings.epochs * steps_per_epoch))
    optimizer = new_adamw([{"params": list(model.parameters()), "weight_decay": 0.01}], settings.learning_rate,
                          accelerator.device, fused=training.fused_optimizer)
    log(f"optimizer: {adamw_kind(optimizer, accelerator.device, asked_fused=training.fused_optimizer)}")
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * total),
                              num_training_steps=total)
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    unwrapped = accelerator.unwrap_model(model)

    all_ids = torch.from_numpy(chunks)
    attention = torch.from_numpy(chunk_attention)
    special = (all_ids == cls_id) | (all_ids == sep_id)
    generator = torch.Generator().manual_seed(settings.seed)
    losses: list[float] = []
    started = time.perf_counter()
    bar = tqdm(total=total, disable=not progress, desc="pretraining", unit="step")
    step = 0
    while step < total:
        order = torch.randperm(len(chunks), generator=generator)
        for begin in range(0, len(order), settings.batch_size):
            if step >= total:
                break
            rows = order[begin : begin + settings.batch_size]
            width = int(attention[rows].sum(dim=1).max())
            ids, mask, spec = all_ids[rows, :width], attention[rows, :width], special[rows, :width]
            inputs, labels = mask_tokens(ids, mask, spec, tokenizer.mask_token_id, len(tokenizer),
                                         settings.mlm_probability, generator)
            with accelerator.autocast():
                loss = masked_lm_loss(unwrapped, inputs.to(accelerator.device),
                                      mask.to(accelerator.device), labels.to(accelerator.device))
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            if step % 50 == 0 or step == total:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
                if not progress:
                    log(f"step {step}/{total}: masked-LM loss {np.mean(losses[-50:]):.3f}")
    bar.close()
    seconds = time.perf_counter() - started

    base = unwrapped.base_model
    for key, value in kept_dropout.items():
        setattr(base.config, key, value)

    def write(staging: Path) -> None:
        with quiet_transformers():  # no "Writing model shards" bar, also under --no-progress
            base.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # an absolute source: the benchmark's leak check follows it back from any folder
        origin = str(Path(source).resolve()) if Path(source).exists() else str(source)
        mark = {"source": origin, "corpora": [c.label for c in config.data.corpora], "steps": total,
                "files": sorted([*(p.name for p in staging.iterdir()), PRETRAINED_MARK])}
        (staging / PRETRAINED_MARK).write_text(json.dumps(mark, indent=1))

    replace_folder(output, write)
    window = max(1, min(50, len(losses) // 4))
    return PretrainResult(
        folder=output, documents=len(texts), subwords=subwords, chunks=len(chunks), steps=total,
        seconds=round(seconds, 1), first_loss=float(np.mean(losses[:window])),
        last_loss=float(np.mean(losses[-window:])), precision=mixed if mixed != "no" else "fp32",
        device=device.type,
    )


def summary(result: PretrainResult) -> dict[str, Any]:
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in result.__dict__.items()}
