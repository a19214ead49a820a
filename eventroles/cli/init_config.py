"""``eventroles init-config``: write a commented starting config."""

from __future__ import annotations

from pathlib import Path

import typer

from ._util import UserError, check_output_path, echo, user_errors

TEMPLATE = """\
# eventroles training config. Every key is checked before training starts: a misspelt key
# or a wrong type stops with the key path. Override any value on the command line with
#   eventroles train THIS.yaml --set training.epochs=5
model:
  backbone: minilm          # 'minilm' (packaged all-MiniLM-L6-v2), a local model folder, or a hub id
  # init_from: output/conflict  # start from a trained eventroles model instead (few articles of your own)
  roles: [attacker, target, location, time, weapon]
  word_shape: {word_shape}  # add a capitalisation/digit feature next to an uncased backbone
  dropout: 0.1              # on the features before the role heads
  attention_dropout: 0.0    # 0 keeps torch's fused attention in training (2.2x faster on a CPU); null: the backbone's own
data:
  corpora:                  # one entry per corpus: a registry `name` (see `eventroles data list`), or a
                            # `path:` to your folder, read from this config file's folder (if it is not
                            # there, from the folder you run in; output.dir and init_from always from there)
{corpora}
training:
  epochs: {epochs}                 # 10 suits a few dozen to a few hundred articles; 3 to 5 for thousands
  learning_rate: 1.0e-4     # backbone; the heads use head_learning_rate (default 20x)
  schedule: linear          # linear | constant | cosine, with warmup_ratio of the steps
  warmup_ratio: 0.1
  batch_size: 4             # windows per step: small batches learn sparse roles in fewer epochs
  gradient_accumulation: 1
  max_length: 256           # subwords per window; longer articles are cut into overlapping windows
  stride: 64                # overlap between windows
  seed: 13
  eval_every: null          # optimizer steps between dev evaluations (null: once per epoch)
  checkpoint_every: 200     # steps between resumable checkpoints (`eventroles train --resume`)
  early_stopping: 3         # evaluations without improvement before stopping (null: never)
  precision: auto           # auto: bf16 on hardware with bf16 units, else fp32 (CPU) or fp16 (GPU)
  fused_optimizer: true     # torch's fused AdamW (1.3x faster steps on a CPU); false: the per-tensor loop
  span_weight: 1.0          # loss weight of span (B/I) cells against O; raise it where spans are rare
  weight_average: null      # e.g. 0.995: keep a moving average of the weights (helped WikiEvents, not MUC-4)
  name_substitution: 0.0    # e.g. 0.5: read a training article, by chance, with its names swapped for others of the role
  selection_metric: seqeval # seqeval | ceaf (document-level fillers; needs gold entities, as MUC-4 has)
  calibrate_offset: true    # after training, choose the span threshold on the dev splits
output:
  dir: {output}
"""

CORPUS = """\
    - name: {name}          # or `path: folder/` holding train.jsonl, dev.jsonl
      train: [train]
      dev: [dev]
      weight: 1.0           # how often its training windows are drawn per epoch
      negative_windows: 1.0 # share of its windows without any span drawn per epoch (lower it where spans are rare)"""


def render(corpora: list[str], output: str, epochs: int = 10, word_shape: bool = True) -> str:
    blocks = "\n".join(CORPUS.format(name=name) for name in corpora)
    return TEMPLATE.format(corpora=blocks, output=output, epochs=epochs, word_shape=str(word_shape).lower())


def yaml_scalar(value: str) -> str:
    """``value`` as it can stand after "key: " in YAML: plain where YAML reads it back unchanged,
    else double-quoted ("runs/v1: best", "@x", "yes" would be a mapping, an error, a boolean)."""
    import json

    import yaml

    try:
        if yaml.safe_load(f"key: {value}") == {"key": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)  # \U escapes would come back as lone surrogates


def register(app: typer.Typer) -> None:
    @app.command("init-config")
    def init_config(
        path: Path = typer.Argument(Path("config.yaml"), help="Where to write the config."),
        corpus: list[str] = typer.Option(["sample"], "--corpus", "-c", help="Registry corpora to train on (repeatable)."),
        output: str = typer.Option("output/model", help="The model folder the config will write."),
        force: bool = typer.Option(False, help="Overwrite an existing file."),
    ) -> None:
        """Write a commented starting config that validates as it is."""
        from eventroles.train.config import config_from_dict

        import yaml

        with user_errors():
            check_output_path(path, "PATH")  # a folder there, or a parent that is a file
            if path.exists() and not force:
                raise FileExistsError(f"{path} exists; use --force to overwrite it")
            from eventroles.data.registry import CORPORA

            unknown = [name for name in corpus if name not in CORPORA]
            if unknown:
                raise UserError(
                    f"--corpus {unknown[0]}: not a registered corpus (registered: {', '.join(CORPORA)}); "
                    "your own folder of train.jsonl and dev.jsonl goes into the written config as `- path: FOLDER`"
                )
            text = render(corpus, yaml_scalar(output))
            config_from_dict(yaml.safe_load(text), str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            echo(f"wrote {path}; train with: eventroles train {path}")
