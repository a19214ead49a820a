"""Write the smoke-test fixture corpora (invented, templated sentences) used by configs/smoke.yaml
and the tests. Two corpora: ``smoke`` annotates all five roles; ``smoke_notime`` is larger and
does not annotate time (its time words are left unlabelled), for the partial-annotation test.

Run: python tools/make_smoke_fixtures.py  (deterministic; rewrites tests/fixtures/)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ATTACKERS = ["Rebels", "Government troops", "Unidentified gunmen", "the militia", "Insurgents", "Police"]
TARGETS = ["the army base", "two soldiers", "a bus", "the power station", "villagers", "the mayor"]
PLACES = ["Kalu", "Mirena", "Tosca", "Varna", "Oslen", "Pradi"]
TIMES = ["Sunday", "Monday night", "3 March 1998", "last week", "dawn", "Friday"]
WEAPONS = ["rifles", "a car bomb", "mortars", "grenades", "machetes", "drones"]
TEMPLATES = [
    "{a} attacked {t} in {l} on {time} with {w}.",
    "On {time}, {a} struck {t} near {l} using {w}.",
    "{t} was hit by {a} in {l} on {time}; witnesses said {w} were used.",
]
FILLER = ["Officials said talks would continue.", "The weather was mild.", "Markets were calm."]


def make_doc(rng: random.Random, doc_id: str, with_time: bool) -> dict:
    parts = {"a": rng.choice(ATTACKERS), "t": rng.choice(TARGETS), "l": rng.choice(PLACES),
             "time": rng.choice(TIMES), "w": rng.choice(WEAPONS)}
    roles = {"a": "attacker", "t": "target", "l": "location", "time": "time", "w": "weapon"}
    template = rng.choice(TEMPLATES)
    text, spans = "", []
    import re

    for piece in re.split(r"(\{\w+\})", template):
        if piece.startswith("{"):
            key = piece[1:-1]
            value = parts[key]
            if text == "" or text.endswith(". "):
                value = value[0].upper() + value[1:]
            if key != "time" or with_time:
                spans.append({"start": len(text), "end": len(text) + len(value), "role": roles[key], "text": value})
            text += value
        else:
            text += piece
    text = text + " " + rng.choice(FILLER)
    roles_annotated = ["attacker", "target", "location", "weapon"] + (["time"] if with_time else [])
    return {"id": doc_id, "text": text, "spans": spans, "roles": sorted(roles_annotated)}


def write(folder: Path, name: str, counts: dict[str, int], with_time: bool, seed: int) -> None:
    rng = random.Random(seed)
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    for split, count in counts.items():
        with (out / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
            for i in range(count):
                handle.write(json.dumps(make_doc(rng, f"{name}-{split}-{i}", with_time)) + "\n")


def main() -> None:
    folder = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
    write(folder, "smoke", {"train": 24, "dev": 8, "test": 8}, with_time=True, seed=1)
    write(folder, "smoke_notime", {"train": 72, "dev": 8, "test": 8}, with_time=False, seed=2)


if __name__ == "__main__":
    main()
