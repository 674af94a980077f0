"""Mixed precision: the Learner's and the Predictor's shared choice of autocast dtype."""
import torch

from fastlearn.utils.precision import amp_dtype, autocast

CPU = torch.device("cpu")


def test_auto_means_bf16_on_a_gpu_only_and_true_or_false_are_obeyed():
    assert amp_dtype("auto", CPU) is None and amp_dtype(False, CPU) is None
    assert amp_dtype(True, CPU) is torch.bfloat16
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        assert amp_dtype("auto", torch.device("cuda")) is torch.bfloat16


def test_autocast_computes_in_the_dtype_asked_or_leaves_full_precision():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with autocast(CPU, None):
        assert (a @ b).dtype == torch.float32
    with autocast(CPU, torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16
    assert (a @ b).dtype == torch.float32
