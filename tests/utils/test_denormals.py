import pytest
import torch

from fastlearn.utils.denormals import flush_denormals, flushing_denormals
from tests.utils.conftest import modes_during

DENORMAL = 1e-40  # float32's smallest normal number is about 1.2e-38


def product() -> float:
    return (torch.tensor([DENORMAL]) * 1.0).item()


@pytest.fixture
def restore_mode():
    was = flushing_denormals()
    yield
    torch.set_flush_denormal(was)


def test_denormals_are_zero_inside_and_the_mode_is_restored_after(restore_mode):
    torch.set_flush_denormal(False)
    assert product() > 0 and not flushing_denormals()
    with flush_denormals():
        assert product() == 0.0 and flushing_denormals()
    assert product() > 0, "the caller's mode (no flushing) must come back"
    torch.set_flush_denormal(True)
    with flush_denormals():
        pass
    assert flushing_denormals(), "a caller who flushes already keeps flushing"
    torch.set_flush_denormal(False)
    with flush_denormals(enabled=False):
        assert product() > 0


def test_learner_flushes_while_it_trains_and_predicts_and_leaves_the_mode_alone(tiny_learner, restore_mode):
    torch.set_flush_denormal(False)
    seen = modes_during(tiny_learner, flushing_denormals, lambda learn: learn.fit_one_cycle(1, 1e-3),
                        lambda learn: learn.predict())
    assert seen and all(seen), "training and prediction run with denormals flushed"
    assert not flushing_denormals(), "the process's own mode is back after fit and predict"
    tiny_learner.flush_denormal = False
    seen = modes_during(tiny_learner, flushing_denormals, lambda learn: learn.predict())
    assert seen and not any(seen)
