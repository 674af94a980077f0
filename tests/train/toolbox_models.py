"""A model for the training toolbox's tests: linear on the pixels, so that no BatchNorm
statistics or dropout make two runs differ except by what is being tested."""
import torch
from torch import nn

from fastlearn import ImageData


class LinearOnPixels(nn.Module):
    def __init__(self, n_in: int = 3 * 32 * 32, n_out: int = 10, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(n_in, n_out)
        self.layer_groups = [list(self.parameters())]

    def freeze_to(self, n: int) -> None:
        pass

    def forward(self, x):
        return self.fc(x.reshape(len(x), -1))


def digits_at(mnist_root, bs: int):
    """320 training digits at 32 px in batches of `bs` (the same digits and order whatever `bs`)."""
    return ImageData.from_folder(mnist_root, size=32, bs=bs, augment="none", max_zoom=1.0, progress=False).sample(320)


def linear_learner(data, **kwargs):
    from fastlearn import Learner
    opts = dict(opt="sgd", wd=0.0, progress=False, precise_bn=False, mixed_precision=False) | kwargs
    return Learner(LinearOnPixels(), data, **opts)
