"""Backbones: where a name leads, and what a backbone folder may not do to the user (unpickle a
file, run its own code, load in half precision, tokenize every word as unknown)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from eventroles.models.backbone import (
    PROXY_VARIABLES, BackboneError, RandomBackbone, backbone_source, build_backbone, load_tokenizer, random_bert_config,
    resolve_backbone,
)


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT with the packaged tokenizer, saved as a local backbone folder (safetensors)."""
    from transformers import AutoModel

    folder = tmp_path_factory.mktemp("tiny") / "backbone"
    tokenizer = load_tokenizer("minilm")
    AutoModel.from_config(random_bert_config(RandomBackbone(), len(tokenizer))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def copy_of(folder: Path, target: Path, skip: tuple[str, ...] = ()) -> Path:
    target.mkdir()
    for path in folder.iterdir():
        if path.name not in skip:
            (target / path.name).write_bytes(path.read_bytes())
    return target


def edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_a_missing_folder_written_as_a_path_is_not_sent_to_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for name in ("./pt_muc4", "../pt_muc4", "/nowhere/pt", "~/nowhere-eventroles", "runs/pt_muc4", "runs/pt/", "a/b/c"):
        with pytest.raises(BackboneError, match="does not exist"):
            resolve_backbone(name)
    # what a hub id looks like stays a hub id (nothing is fetched here: it is only named)
    assert resolve_backbone("sentence-transformers/all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_backbone("bert-base-uncased") == "bert-base-uncased"


class _Marker:
    """Unpickling this creates a folder: proof that a file was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # noqa: D105
        return (os.mkdir, (self.path,))


def test_a_backbone_with_only_pickled_weights_is_refused_unread(tmp_path: Path, tiny_backbone: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_of(tiny_backbone, tmp_path / "bin_only", skip=("model.safetensors",))
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Marker(str(marker))))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called on a file the user handed over"))
    with pytest.raises(BackboneError, match="could not load backbone"):
        build_backbone(str(folder), None, 0)
    assert not marker.exists(), "the pickle was loaded"
    # nor when config.json names the pickle as its weights file (transformers would load it even with use_safetensors)
    edit_config(folder, transformers_weights="pytorch_model.bin")
    with pytest.raises(BackboneError, match="safetensors only"):
        build_backbone(str(folder), None, 0)
    assert not marker.exists(), "the pickle was loaded"


def test_a_backbone_never_runs_its_own_code_nor_asks_for_it(tmp_path: Path, tiny_backbone: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = copy_of(tiny_backbone, tmp_path / "remote_code")
    marker = tmp_path / "code_ran"
    (folder / "custom_bert.py").write_text(f"import os\nos.mkdir({str(marker)!r})\n"
                                           "from transformers import BertModel as CustomModel, BertConfig as CustomConfig\n")
    # an architecture transformers does not know, whose code the folder brings along
    edit_config(folder, model_type="eventroles-custom-bert",
                auto_map={"AutoConfig": "custom_bert.CustomConfig", "AutoModel": "custom_bert.CustomModel"})
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("asked on standard input whether to run the folder's code"))
    with pytest.raises(BackboneError, match="could not load backbone"):
        build_backbone(str(folder), None, 0)
    assert not marker.exists(), "the folder's code ran"


def test_a_half_precision_checkpoint_is_trained_in_float32(tmp_path: Path, tiny_backbone: Path) -> None:
    folder = copy_of(tiny_backbone, tmp_path / "bf16")
    edit_config(folder, torch_dtype="bfloat16", dtype="bfloat16")
    model = build_backbone(str(folder), None, 0)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_a_backbone_folder_without_its_vocabulary_is_refused(tmp_path: Path, tiny_backbone: Path) -> None:
    folder = copy_of(tiny_backbone, tmp_path / "no_vocab", skip=("tokenizer.json", "vocab.txt"))
    with pytest.raises(BackboneError, match="vocabulary file.*missing"):
        load_tokenizer(str(folder))


def test_a_truncated_weights_file_is_one_error(tmp_path: Path, tiny_backbone: Path) -> None:
    folder = copy_of(tiny_backbone, tmp_path / "truncated")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BackboneError, match="could not load backbone"):
        build_backbone(str(folder), None, 0)


def test_a_name_close_to_the_packaged_backbone_is_a_typo_not_a_hub_id() -> None:
    for typo in ("minilmm", "MiniLM", "mini-lm", "minlm"):  # each went to the Hub and retried for 49 s offline
        with pytest.raises(BackboneError, match="did you mean 'minilm'"):
            resolve_backbone(typo)
    assert resolve_backbone("roberta-base") == "roberta-base"  # other names are still hub ids


@pytest.fixture
def hub_unreachable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No network: the Hub's host does not resolve, no proxy, not in offline mode. Returns the
    hosts looked up."""
    import socket

    from huggingface_hub import constants

    looked_up: list[str] = []

    def no_dns(host: str, *args: object, **kwargs: object) -> None:
        looked_up.append(host)
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return looked_up


def test_a_hub_id_without_a_network_is_refused_at_once_naming_the_host(
    hub_unreachable: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline, each from_pretrained spent about 27 s in the hub client's retries before failing.
    import huggingface_hub
    from transformers import AutoTokenizer

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo_id, filename, **kw: None)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda *a, **kw: pytest.fail("the hub client was called"))
    with pytest.raises(BackboneError, match=r"'owner/model' is not a local folder.*huggingface\.co does not resolve"):
        load_tokenizer("owner/model")
    with pytest.raises(BackboneError, match="nor is the model in the local Hugging Face cache"):
        build_backbone("owner/model", None, 0)
    assert hub_unreachable == ["huggingface.co", "huggingface.co"]


def test_a_hub_id_without_a_network_loads_from_the_local_cache(
    hub_unreachable: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub

    snapshot = tmp_path / "models--owner--model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    asked: list[tuple[str, str]] = []

    def cached(repo_id: str, filename: str, **kw: object) -> str:
        asked.append((repo_id, filename))
        return str(snapshot / filename)

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", cached)
    assert backbone_source("owner/model") == str(snapshot)
    assert asked == [("owner/model", "config.json")]


def test_a_hub_id_is_left_to_the_hub_client_with_a_network_or_a_proxy(
    hub_unreachable: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")  # the proxy resolves the Hub, not this machine
    assert backbone_source("owner/model") == "owner/model" and hub_unreachable == []
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **kw: [])  # the host resolves
    assert backbone_source("owner/model") == "owner/model"
    assert backbone_source("minilm") == resolve_backbone("minilm")  # folders are never looked up
