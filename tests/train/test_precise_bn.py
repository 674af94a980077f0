"""BatchNorm statistics recomputed after each short epoch: exact averages, frozen layers untouched."""
import torch
from torch import nn

from fastlearn import ImageData, Learner
from fastlearn.train.precise_bn import recompute_batchnorm
from tests.conftest import make_shape_folders


def test_the_statistics_are_the_exact_average_and_frozen_layers_keep_theirs():
    torch.manual_seed(0)
    trained, frozen = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    model = nn.Sequential(trained, frozen).train()
    frozen.eval()
    batches = [(torch.randn(8, 3) * 2 + torch.tensor([1.0, -3.0, 5.0]), None) for _ in range(5)]
    assert recompute_batchnorm(model, batches) == 1
    xs = torch.cat([x for x, _ in batches])
    assert torch.allclose(trained.running_mean, xs.mean(0), atol=1e-5)  # equal batches: the mean of the means
    assert torch.allclose(trained.running_var, torch.stack([x.var(0) for x, _ in batches]).mean(0), atol=1e-5)
    assert trained.momentum == 0.1  # restored
    assert torch.equal(frozen.running_mean, torch.zeros(3)) and torch.equal(frozen.running_var, torch.ones(3))


def _head_stats_after_one_epoch(root, precise_bn):
    data = ImageData.from_folder(root, size=32, bs=12, augment="none", progress=False)  # 120 images: 10 steps of 12
    learn = Learner.pretrained("tf_efficientnet_lite0", data, seed=0, progress=False, precise_bn=precise_bn)
    learn.fit_one_cycle(1, 1e-2)
    learn.model.eval()
    with torch.no_grad():
        features = torch.cat([learn.model.features(xb) for xb, _ in data.loader("train", shuffle=False)])
    return learn.model.head.fc[0].running_mean, features.mean(0)


def test_a_short_epoch_ends_with_the_head_on_the_training_sets_own_statistics(tmp_path):
    root = make_shape_folders(tmp_path / "s", n_train=40, n_valid=4)
    running, exact = _head_stats_after_one_epoch(root, "auto")
    assert torch.allclose(running, exact, rtol=1e-3, atol=1e-3)
    # without it the running average after 10 steps still holds a third of its start (zeros)
    running, exact = _head_stats_after_one_epoch(root, False)
    assert (running - exact).abs().mean() > 0.2 * exact.abs().mean()
