"""``eventroles benchmark transfer``: how well a tagger does on a corpus it never saw (issue 11).

For each held-out corpus of a config, a model is trained on every *other* corpus of the config
and scored on the held-out corpus's test split; one more model, trained on all corpora (the
in-domain model), is scored on every corpus's test split for comparison. The headline is the
ratio leave-one-out overlap F1 / in-domain overlap F1 per held-out corpus and role (target
``TARGET_RATIO``): it says how much of a corpus's in-domain quality survives when that corpus's
own annotation style was never seen.

Why reuse everything: runs are plain ``Trainer`` runs on copies of the config (only
``data.corpora`` and ``output`` change, so model selection uses the training corpora's dev
splits and never the held-out corpus); test splits are read as training reads its splits
(``corpora.load_split``: same role filter and role map); predictions come from
``Tagger.load`` on the written model folder; scores are ``metrics.score_corpus`` (seqeval,
exact and one-to-one overlap matching), restricted to the roles the model tags and, per
document, to the roles the gold annotates. Nothing here prints; messages go to ``log``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

from eventroles.data.document import Document

from .config import Config, CorpusConfig
from .corpora import has_split, load_corpora, load_split
from .metrics import score_corpus
from .checkpoints import changed_keys, discard, find_checkpoint, flat_config
from .trainer import Trainer, TrainingStopped

TARGET_RATIO = 0.60
# Below this many held-out spans of a role, or this in-domain overlap F1, its ratio is noted as
# weak evidence: a ratio over a handful of spans, or over a model that hardly finds the role, says little.
FEW_SPANS = 30
WEAK_IN_DOMAIN_F1 = 0.30
MEASURES = ("seqeval", "exact", "overlap")
IN_DOMAIN = "in_domain"


class TransferError(ValueError):
    """A config or request the leave-one-out benchmark cannot run (the message says why)."""


def benchmark_transfer(
    config: Config,
    *,
    holdouts: Sequence[str] | None = None,
    test_split: str = "test",
    work_dir: Path = Path("output/transfer"),
    progress: bool = False,
    reuse: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Train the in-domain model and one leave-one-out model per held-out corpus; score them.

    With ``reuse``, a model folder already in ``work_dir`` that was trained with the very same
    config (an earlier, interrupted or narrower run) is scored instead of trained again.

    ``holdouts`` are corpus labels (a registry name or a folder's name; default: every corpus).
    A corpus without a ``test_split`` (or with an empty one) is skipped, and each skip is
    recorded in ``skipped`` and logged. Returns JSON-ready data: ``in_domain`` and ``transfer``
    (per held-out corpus: model folder, training corpora, full ``score_corpus`` result and
    ``ratios`` per role), ``rows`` (one flat dict per held-out corpus and role, plus ``micro``),
    ``skipped``, ``notes`` and ``summary``.
    """
    corpora = config.data.corpora
    labels = [c.label for c in corpora]
    _check_request(labels, holdouts)
    chosen = list(dict.fromkeys(holdouts)) if holdouts else labels
    _check_starting_points(config, chosen)
    roles = list(config.model.tagset().roles)

    tests: dict[str, list[Document]] = {}
    skipped: list[dict[str, str]] = []
    for corpus in corpora:
        reason = _no_test_reason(corpus, test_split)
        if reason is None:
            docs, _ = load_split(corpus, test_split)
            if docs:
                tests[corpus.label] = docs
                continue
            reason = f"its {test_split} split is empty"
        skipped.append({"corpus": corpus.label, "reason": reason})
        log(f"note: skipping {corpus.label}: {reason} (still used for training)")
    scored = [label for label in chosen if label in tests]
    if not scored:
        raise TransferError(f"nothing to score: none of {', '.join(chosen)} has a non-empty {test_split} split")

    runs = 1 + len(scored)
    log(f"[1/{runs}] in-domain model: training on {', '.join(labels)}")
    in_domain_run = _train_and_score(config, corpora, work_dir / IN_DOMAIN, tests, roles, progress, log, reuse)
    transfer: dict[str, Any] = {}
    for number, label in enumerate(scored, start=2):
        rest = [c for c in corpora if c.label != label]
        log(f"[{number}/{runs}] holding out {label}: training on {', '.join(c.label for c in rest)}")
        run = _train_and_score(config, rest, work_dir / _folder_name(label), {label: tests[label]}, roles,
                               progress, log, reuse)
        scores = run.pop("scores")[label]
        run.update(test_documents=len(tests[label]), roles=scores["roles"], scores=scores)
        run["untrained_roles"] = [r for r in scores["roles"] if r not in run["trained_roles"]]
        run["ratios"] = _ratios(scores, in_domain_run["scores"][label])
        transfer[label] = run

    rows = [row for label, run in transfer.items() for row in _rows(label, run, in_domain_run["scores"][label])]
    notes = [f"{s['corpus']}: skipped, {s['reason']}" for s in skipped]
    notes += [f"{label}: no training corpus of its leave-one-out run annotates {', '.join(run['untrained_roles'])}"
              for label, run in transfer.items() if run["untrained_roles"]]
    notes += [f"{name}: no dev documents, so the model kept is the one of the last step (not chosen on dev)"
              for name, run in [(IN_DOMAIN, in_domain_run), *transfer.items()] if not run["dev_documents"]]
    role_rows = [r for r in rows if r["role"] != "micro"]
    weak = [f"{r['holdout']} {r['role']} ({r['support']} spans, in-domain overlap F1 {r['in_domain_overlap_f1'] * 100:.1f})"
            for r in role_rows if r["overlap_ratio"] is not None
            and (r["support"] < FEW_SPANS or r["in_domain_overlap_f1"] < WEAK_IN_DOMAIN_F1)]
    if weak:
        notes.append(f"ratios on fewer than {FEW_SPANS} spans or over an in-domain overlap F1 under "
                     f"{WEAK_IN_DOMAIN_F1 * 100:.0f} say little: {'; '.join(weak)}")
    return {
        "test_split": test_split,
        "target_ratio": TARGET_RATIO,
        "corpora": labels,
        "holdouts": scored,
        "skipped": skipped,
        "in_domain": in_domain_run,
        "transfer": transfer,
        "rows": rows,
        "notes": notes,
        "summary": {
            "roles_scored": len(role_rows),
            "roles_meeting_target": sum(1 for r in role_rows if r["meets_target"]),
            "roles_without_ratio": sum(1 for r in role_rows if r["overlap_ratio"] is None),
        },
    }


def _check_request(labels: list[str], holdouts: Sequence[str] | None) -> None:
    """Leave-one-out needs two or more distinctly named corpora, and known holdout names."""
    if len(labels) < 2:
        raise TransferError(
            f"leave-one-out needs at least two corpora in data.corpora; this config has one ({labels[0]}). "
            "Add the corpora to transfer between, or use `eventroles evaluate` for an in-domain score"
        )
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise TransferError(f"corpus label(s) {', '.join(repeated)} appear more than once in data.corpora; "
                            "each corpus must have its own name or folder name to be held out")
    unknown = [h for h in holdouts or [] if h not in labels]
    if unknown:
        raise TransferError(f"--holdout {', '.join(unknown)}: not a corpus of this config; its corpora: "
                            f"{', '.join(labels)}")


def _check_starting_points(config: Config, holdouts: Sequence[str]) -> None:
    """Refuse a config whose leave-one-out models would start from a model that saw a held-out
    corpus: ``model.init_from`` (a trained tagger) or a ``model.backbone`` folder that
    ``eventroles pretrain`` wrote, followed back through what those started from. Only
    ``data.corpora`` changes between the runs, so such a start would carry the held-out corpus
    into every leave-one-out model and inflate its score."""
    seen, unknown = corpora_seen_by_start(config)
    if unknown:
        raise TransferError(
            "cannot tell which corpora the starting point of the leave-one-out models was trained on: "
            + "; ".join(unknown) + " (a relative path is read from the folder the command runs in). Run from the "
            "folder those paths were written from, or start from the packaged backbone"
        )
    leaks = [f"{label} (by {', '.join(seen[label])})" for label in holdouts if label in seen]
    if leaks:
        raise TransferError(
            "the leave-one-out models would start from a model that was trained on the corpus they hold out: "
            + "; ".join(leaks) + ". Start from a model or backbone that never saw it (the packaged backbone: "
            "model.backbone minilm and no model.init_from), or hold out only the corpora it did not see"
        )


def corpora_seen_by_start(config: Config) -> tuple[dict[str, list[str]], list[str]]:
    """``(corpus label -> the starting folders that were trained on it, links that could not be
    followed)``. Starting folders: ``model.init_from`` (a trained tagger), a ``model.backbone``
    that ``eventroles pretrain`` wrote (not read when ``model.random`` builds the backbone), and
    what each of them started from, as its metadata records it. A link that names a folder which
    is not there cannot be checked, so it is returned rather than taken as clean."""
    import json

    from eventroles.models.backbone import DEFAULT_BACKBONE, looks_like_path
    from eventroles.models.storage import ModelFolderError, read_meta

    from .pretraining import PRETRAINED_MARK

    seen: dict[str, list[str]] = {}
    unknown: list[str] = []
    pending: list[tuple[str, str, str]] = []  # (kind, folder, where it is named)

    def follow(model: dict[str, Any], named_in: str) -> None:
        if model.get("init_from"):
            pending.append(("model", str(model["init_from"]), named_in))
        elif model.get("random") is None and model.get("backbone"):
            pending.append(("backbone", str(model["backbone"]), named_in))

    follow(config.model.model_dump(mode="json"), "the config")
    visited: set[str] = set()
    while pending:
        kind, folder, named_in = pending.pop()
        path = Path(folder).expanduser()
        if folder in visited or (kind == "backbone" and folder == DEFAULT_BACKBONE):
            continue
        visited.add(folder)
        if kind == "model":
            try:
                info = read_meta(path).info
            except ModelFolderError as error:
                unknown.append(f"model.init_from {folder} (named in {named_in}): {error}")
                continue
            labels = [str(c.get("label")) for c in info.get("corpora", [])]
            follow((info.get("config") or {}).get("model") or {}, f"{folder}'s eventroles.json")
            where = f"model.init_from {folder}"
        else:
            if not path.exists():
                if looks_like_path(folder):
                    unknown.append(f"backbone {folder} (named in {named_in}) is not there")
                continue  # a hub id: not pretrained here
            mark = path / PRETRAINED_MARK
            if not mark.is_file():
                continue  # a plain backbone folder: a downloaded model
            try:
                record = json.loads(mark.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                unknown.append(f"{mark}: {error}")
                continue
            labels = [str(label) for label in record.get("corpora", [])]
            if record.get("source"):
                pending.append(("backbone", str(record["source"]), str(mark)))
            where = f"the pretrained backbone {folder}"
        for label in labels:
            seen.setdefault(label, []).append(where)
    return seen, unknown


def _no_test_reason(corpus: CorpusConfig, split: str) -> str | None:
    if has_split(corpus, split):
        return None
    if corpus.path is not None:
        return f"no {split} split ({corpus.path / (split + '.jsonl')} does not exist)"
    return f"the registry corpus has no {split} split"


def _folder_name(label: str) -> str:
    return "without_" + re.sub(r"[^\w.-]+", "_", label)


def _train_and_score(
    config: Config,
    corpora: list[CorpusConfig],
    out: Path,
    tests: dict[str, list[Document]],
    roles: list[str],
    progress: bool,
    log: Callable[[str], None],
    reuse: bool = True,
) -> dict[str, Any]:
    """Train on ``corpora`` (a config copy writing to ``out``), then score each test set.

    With ``reuse``, a finished model already at ``out`` with the same config is scored instead
    of trained again."""
    from eventroles.models.inference import Tagger

    run_config = config.model_copy(deep=True)
    run_config.data.corpora = [c.model_copy(deep=True) for c in corpora]
    run_config.output.dir = out
    run_config.output.run_dir = None  # <out>.run: runs must never share checkpoints
    finished = _finished_run(run_config, log) if reuse else None
    if finished is not None:
        log(f"reusing {out}: a finished model trained with this very config")
        stats, trained, dev_documents = finished
    else:
        run_dir = run_config.output.resolved_run_dir()
        if not reuse:
            discard(run_dir)  # --retrain: an interrupted run of this model starts over too
        resuming = find_checkpoint(run_dir) is not None
        if resuming:
            log(f"resuming the interrupted run in {run_dir}")
        trainer = Trainer(run_config, progress=progress, log=log)
        try:
            result = trainer.train(resume=resuming)
        except TrainingStopped as stopped:  # the trainer's hint names `train --resume`; here the command resumes itself
            raise TrainingStopped(str(stopped).split("; continue with")[0]
                                  + "; run the same benchmark command again (without --retrain) to continue this run") from None
        stats = result.stats
        trained = set().union(*(d.roles for c in trainer.corpora for d in c.train))
        dev_documents = sum(len(c.dev) for c in trainer.corpora)
        del trainer
    # reused or fresh, a model is scored as the config runs it (a reused one may come from a GPU)
    tagger = Tagger.load(out, device=config.training.device, precision=config.training.precision)
    scores = {label: score_corpus(gold, tagger.predict_documents([doc.blank() for doc in gold]), roles)
              for label, gold in tests.items()}
    return {
        "model_dir": str(out),
        "train_corpora": [c.label for c in corpora],
        "trained_roles": [r for r in roles if r in trained],
        "dev_documents": dev_documents,
        "training": stats,
        "scores": scores,
        "reused": finished is not None,
    }


def _finished_run(config: Config, log: Callable[[str], None] = lambda message: None) -> tuple[dict[str, Any], set[str], int] | None:
    """``(training stats, trained roles, dev documents)`` of a model folder at ``output.dir``
    that was trained with exactly ``config`` (output paths, thread count and checkpoint interval
    aside: they do not change the weights), or None. A model folder there that another config
    wrote is logged with the keys that differ, then trained over.

    Why: the benchmark trains one model per corpus and takes hours on a CPU; an interrupted or
    extended run (one more ``--holdout``) should not train again what it has.
    """
    from eventroles.models.storage import ModelFolderError, read_meta

    if not config.output.dir.exists():
        return None
    try:
        info = read_meta(config.output.dir).info
    except ModelFolderError:
        return None
    wanted = flat_config(config.model_dump(mode="json", exclude={"output"}))
    recorded = flat_config({k: v for k, v in (info.get("config") or {}).items() if k != "output"})
    changed = changed_keys(recorded, wanted)
    if changed or "training" not in info:
        shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
        log(f"not reusing {config.output.dir}: it was trained with another config ({shown or 'no training record'}); "
            "training it again")
        return None
    now = {c.label: c for c in load_corpora(config)}  # the same config, but is it the same data?
    moved = [c["label"] for c in info.get("corpora", []) if c.get("label") not in now
             or (c["fingerprint"] != now[c["label"]].fingerprint() if "fingerprint" in c else
                 (c.get("train_documents"), c.get("dev_documents")) != (len(now[c["label"]].train), len(now[c["label"]].dev)))]
    if moved:
        log(f"not reusing {config.output.dir}: the training or dev documents of {', '.join(moved)} are not the ones "
            "it was trained on (a corpus downloaded again or edited); training it again")
        return None
    trained = {role for corpus in info.get("corpora", []) for role in corpus.get("roles", [])}
    dev_documents = sum(int(corpus.get("dev_documents", 0)) for corpus in info.get("corpora", []))
    stats = {k: v for k, v in info["training"].items() if k != "history"}
    return stats, trained, dev_documents



def _ratio(transfer: float, in_domain: float) -> float | None:
    return transfer / in_domain if in_domain > 0 else None


def _ratios(transfer: dict[str, Any], in_domain: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per role (and micro): overlap F1 of both models, their ratio and whether it meets the target."""
    out = {}
    for role in [*transfer["roles"], "micro"]:
        t, i = transfer["overlap"][role]["f1"], in_domain["overlap"][role]["f1"]
        ratio = _ratio(t, i)
        out[role] = {"transfer_f1": t, "in_domain_f1": i, "ratio": ratio,
                     "meets_target": None if ratio is None else ratio >= TARGET_RATIO}
    return out


def _rows(label: str, run: dict[str, Any], in_domain: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per role of the held-out corpus (then micro): every F1, support and the ratio."""
    rows = []
    for role, ratio in run["ratios"].items():
        row: dict[str, Any] = {"holdout": label, "role": role,
                               "support": run["scores"]["overlap"][role]["support"]}
        for measure in MEASURES:
            row[f"transfer_{measure}_f1"] = run["scores"][measure][role]["f1"]
        for measure in MEASURES:
            row[f"in_domain_{measure}_f1"] = in_domain[measure][role]["f1"]
        row["overlap_ratio"] = ratio["ratio"]
        row["meets_target"] = ratio["meets_target"]
        row["in_training_data"] = role == "micro" or role in run["trained_roles"]
        rows.append(row)
    return rows
