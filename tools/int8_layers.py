"""Which Linear layers can be int8 (dynamic quantisation) without moving the spans? (docs/benchmarks.md)

    EVENTROLES_DATA=../shared/data python tools/int8_layers.py MODEL SPEC [SPEC...]

For each variant (fp32; int8 of every Linear, as `--precision int8` does; of the backbone only; of
the feed-forward layers only; of the attention layers only): words/s over each corpus split (one
pass after a 4-document warm-up, 2 threads), span agreement with fp32 (F1 on exact start, end,
role) and seqeval / overlap micro F1 against the gold spans.
"""
import json
import sys
import time

import torch
from pathlib import Path

from torch.ao.quantization import quantize_dynamic

from eventroles.models.inference import Tagger
from eventroles.models.storage import load_model
from eventroles.data.registry import load_corpus
from eventroles.data.document import Document
from eventroles.train.benchmark_speed import span_agreement
from eventroles.train.metrics import score_corpus

torch.set_num_threads(2)
model_dir, specs = sys.argv[1], sys.argv[2:]

def linear_names(model, keep):
    return {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and keep(n)}

# name -> (the Tagger's precision, which Linear layers this tool quantises itself)
VARIANTS = {
    "fp32": ("fp32", None),
    "int8 all Linear": ("int8", None),  # the product's own path: what `--precision int8` runs
    "int8 backbone (heads fp32)": ("fp32", lambda n: not n.startswith("heads")),
    "int8 feed-forward only": ("fp32", lambda n: ("intermediate.dense" in n or (n.endswith("output.dense") and "attention" not in n))),
    "int8 attention only": ("fp32", lambda n: "attention" in n),
}
corpora = {s: load_corpus(s)[0] for s in specs}
results = {}
ref = {}
for name, (precision, keep) in VARIANTS.items():
    model, tok, meta = load_model(Path(model_dir))
    model.eval()
    if keep is not None:
        names = linear_names(model, keep)
        model = quantize_dynamic(model, names, dtype=torch.qint8)
    tagger = Tagger(model, tok, meta, device="cpu", precision=precision)
    row = {}
    for spec, gold in corpora.items():
        docs = [Document(d.id, d.text, roles=d.roles) for d in gold]
        tagger.predict_documents(docs[:4])
        t = time.perf_counter()
        pred = tagger.predict_documents(docs)
        secs = time.perf_counter() - t
        words = sum(len(d.words) for d in gold)
        spans = [frozenset((s.start, s.end, s.role) for s in d.spans) for d in pred]
        if name == "fp32":
            ref[spec] = spans
        agree = span_agreement(ref[spec], spans)
        s = score_corpus(gold, pred)
        row[spec] = {"words_per_s": round(words / secs), "agreement": round(agree, 4),
                     "seqeval": round(100 * s["seqeval"]["micro"]["f1"], 2), "overlap": round(100 * s["overlap"]["micro"]["f1"], 2)}
        print(name, spec, row[spec], flush=True)
    results[name] = row
print(json.dumps(results, indent=1))
