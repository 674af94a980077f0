"""Mixed precision: the Learner's and the Predictor's shared choice of autocast dtype."""
import torch

from fastlearn.utils.precision import amp_dtype, autocast, cpu_has_native_bf16

CPU = torch.device("cpu")


def test_auto_means_bf16_on_a_gpu_only_and_true_or_false_are_obeyed():
    assert amp_dtype("auto", CPU) is None and amp_dtype(False, CPU) is None
    assert amp_dtype(True, CPU) is torch.bfloat16
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        assert amp_dtype("auto", torch.device("cuda")) is torch.bfloat16


def test_a_kind_that_gains_trains_in_bf16_where_the_cpu_has_it_and_evaluates_as_its_bundle(tmp_path):
    flags = next((ln for ln in open("/proc/cpuinfo") if ln.startswith("flags")), "").split()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert cpu_has_native_bf16() is native
    assert amp_dtype("auto", CPU, cpu_bf16=True) is (torch.bfloat16 if native else None)
    assert amp_dtype(False, CPU, cpu_bf16=True) is None
    from fastlearn import Learner, TabularData
    import pandas as pd

    class GainsFromBf16(TabularData):  # any data kind that says its models gain from the CPU's bf16
        cpu_bf16 = True
    df = pd.DataFrame({"x": [i % 7 * 0.5 for i in range(40)], "y": [i % 2 for i in range(40)]})
    learn = Learner.tabular(GainsFromBf16.from_df(df, target="y", valid_pct=0.25, device="cpu"), progress=False)
    assert learn.amp_dtype is (torch.bfloat16 if native else None)
    assert learn.eval_amp_dtype is None  # validation computes as the exported Predictor does


def test_autocast_computes_in_the_dtype_asked_or_leaves_full_precision():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with autocast(CPU, None):
        assert (a @ b).dtype == torch.float32
    with autocast(CPU, torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16
    assert (a @ b).dtype == torch.float32
