"""Bodies by name, pretrained weights from every source, and the offline error."""
import time

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file

from fastlearn import list_models
from fastlearn.vision.models import WeightsUnavailableError, create_body, create_classifier
from fastlearn.vision.models.weights import load_positional, packaged_weights_file, read_state_dict


def test_packaged_lite0_weights_are_real_imagenet_weights():
    import timm
    from sklearn.datasets import load_sample_images
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    load_positional(model, read_state_dict(packaged_weights_file("tf_efficientnet_lite0")), "package")
    photos = dict(zip((p.rsplit("/", 1)[-1] for p in load_sample_images().filenames), load_sample_images().images))
    def top5(img):
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 255
        x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", antialias=True)
        with torch.no_grad():
            return model((x - 0.5) / 0.5).topk(5).indices[0].tolist()
    assert top5(photos["flower.jpg"])[0] == 985  # daisy
    buildings = {442, 449, 483, 498, 668, 698, 832, 975}  # bell cote, boathouse, castle, ..., palace, stupa, lakeside
    assert len(set(top5(photos["china.jpg"])) & buildings) >= 3


def test_default_arch_loads_packaged_weights_offline():
    body, n_features, meta = create_body("tf_efficientnet_lite0")
    assert n_features == 1280 and meta["weights"].startswith("package:") and meta["mean"] == [0.5, 0.5, 0.5]


def test_weights_from_a_file(tmp_path):
    donor, _, _ = create_body("resnet18", pretrained=False)
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(tmp_path / "w.safetensors"))
    torch.save(donor.state_dict(), tmp_path / "w.pth")
    for f in ("w.safetensors", "w.pth"):
        body, _, meta = create_body("resnet18", weights=tmp_path / f)
        assert meta["weights"] == f"file:{f}"
        for k, v in donor.state_dict().items():
            assert torch.equal(body.state_dict()[k], v)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        create_body("resnet18", weights=tmp_path / "missing.pth")


def test_no_internet_error_is_fast_and_says_what_works(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as e:
        create_body("resnet34")
    assert time.perf_counter() - t0 < 10
    msg = str(e.value)
    assert "tf_efficientnet_lite0" in msg and "weights=" in msg and "pretrained=False" in msg


def test_unknown_arch_suggests_names():
    with pytest.raises(ValueError, match="resnet34"):
        create_body("resnet3", pretrained=False)
    assert "resnet34" in list_models("resnet*") and "tf_efficientnet_lite0" in list_models("*lite0")


def test_torchvision_model_function():
    model = create_classifier(torchvision.models.resnet18, 4, pretrained=False)
    assert model.n_features == 512 and model.meta["arch"] == "torchvision.resnet18"
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 4)
