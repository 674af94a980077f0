"""Precomputed activations are the model's own features of the unaugmented images."""
import torch

from fastlearn import ImageData, Learner
from fastlearn.vision.precompute import precomputed_activations


def test_precomputed_activations_are_the_models_features(mnist_root, tmp_path):
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False,
                                 device="cpu").sample(96)
    learn = Learner.pretrained("tf_efficientnet_lite0", data, progress=False)
    acts, from_cache = precomputed_activations(learn.model, data, tmp_path)
    assert not from_cache
    learn.model.eval()
    with torch.no_grad():
        for split in ("train", "valid"):
            xs, ys = zip(*data.loader(split, augment=False, shuffle=False))
            expected = learn.model.features(torch.cat(xs))
            got = acts[f"{split}_x"]
            assert got.shape == expected.shape and torch.equal(acts[f"{split}_y"], torch.cat(ys))
            assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()
