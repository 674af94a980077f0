"""The foundations: SGD by hand and by autograd agree; gradient descent fits a quadratic (and a
bad rate shows); sums of ReLUs fit curves better with more units; the Titanic spreadsheet model
in PyTorch, beside scikit-learn, and its .xlsx recalculated by LibreOffice."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from fastlearn.scratch import (fit_line_autograd, fit_line_by_hand, fit_quadratic, fit_titanic, mae, mse,
                               noisy_quadratic, plot_line_fit, relu_errors, titanic_features, titanic_spreadsheet)
from fastlearn.scratch.line import line_data
from fastlearn.scratch.titanic import matrix_form, split_rows, two_relus


def test_a_line_by_hand_and_by_autograd_gives_the_same_numbers():
    x, y = line_data(a=3.0, b=8.0)
    by_hand, auto = fit_line_by_hand(x, y, lr=0.1, epochs=30), fit_line_autograd(x, y, lr=0.1, epochs=30)
    assert np.allclose(by_hand, auto, rtol=1e-9, atol=1e-12)
    a, b, loss = by_hand[-1]
    assert abs(a - 3.0) < 0.6 and abs(b - 8.0) < 0.4 and loss < by_hand[0][2] and loss < 0.4
    assert plot_line_fit(x, y, by_hand) is not None


def test_gradient_descent_fits_a_quadratic_and_a_bad_rate_shows():
    x, y = noisy_quadratic()
    abc, losses = fit_quadratic(x, y, lr=0.01, steps=300, loss=mae)
    assert losses[-1] < losses[0] / 2 and abs(float(abc[0]) - 3.0) < 0.5
    _, slow = fit_quadratic(x, y, lr=1e-5, steps=300, loss=mae)
    assert slow[-1] > 0.98 * slow[0]  # too small: it barely moves
    _, wild = fit_quadratic(x, y, lr=0.3, steps=20, loss=mse)
    assert wild[-1] > 1000 * wild[0]  # too large: each step overshoots further


def test_sums_of_relus_fit_a_curve_better_with_more_units():
    one_d = relu_errors((1, 4, 32), dims=1, steps=1500)
    assert one_d[32] < one_d[4] < one_d[1] and one_d[32] < one_d[1] / 10
    two_d = relu_errors((1, 32), dims=2, steps=1500)
    assert two_d[32] < two_d[1] / 2


@pytest.fixture(scope="module")
def titanic():
    from fastlearn.datasets import titanic_frame
    return titanic_frame()


def test_the_spreadsheet_model_in_pytorch_beside_logistic_regression(titanic):
    from sklearn.linear_model import LogisticRegression
    valid = split_rows(len(titanic), seed=0)
    fit = fit_titanic(titanic, valid)
    x = titanic_features(titanic)
    w = torch.tensor(fit.relu_weights, dtype=torch.float64)
    assert torch.allclose(two_relus(x, w), matrix_form(x, w))  # SUMPRODUCTs and MMULT: one model
    assert fit.losses[-1] < fit.losses[0] and fit.loss < fit.linear_loss + 1e-3
    y = titanic["survived"].to_numpy()
    logreg = LogisticRegression(max_iter=2000).fit(x[valid == 0, 1:].numpy(), y[valid == 0])
    theirs = float((logreg.predict(x[valid == 1, 1:].numpy()) == y[valid == 1]).mean())
    assert fit.accuracy > 0.75 and fit.accuracy >= theirs - 0.03 and fit.linear_accuracy >= theirs - 0.03


def _soffice() -> str | None:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the spreadsheet test: .ci/run installs Debian's libreoffice-calc")
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc")
    return found


def _recalculated(xlsx: Path, out: Path) -> Path:
    """`xlsx` opened by LibreOffice with every formula recalculated from scratch, saved again."""
    profile = out / "profile"
    (profile / "user").mkdir(parents=True)
    # OOXMLRecalcMode 0: always recalculate on load (the default trusts cached values, which openpyxl does not write)
    (profile / "user" / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">'
        '<value>0</value></prop></item>\n</oor:items>\n')
    subprocess.run([_soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--calc", "--convert-to",
                    "xlsx", "--outdir", str(out / "recalculated"), str(xlsx)], check=True, capture_output=True,
                   timeout=300)
    return out / "recalculated" / xlsx.name


def test_the_spreadsheet_recalculated_by_libreoffice_gets_pytorchs_loss(titanic, tmp_path):
    from openpyxl import load_workbook
    soffice = _soffice()
    assert soffice
    path = tmp_path / "titanic.xlsx"
    ours = titanic_spreadsheet(path, titanic)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        titanic_spreadsheet(path, titanic)  # a finished spreadsheet is not replaced unasked
    wb = load_workbook(_recalculated(path, tmp_path), data_only=True)
    cached = {}
    for name in ("loss", "accuracy", "linear_loss", "linear_accuracy", "matrix_loss"):
        (sheet, cell), = list(wb.defined_names[name].destinations)
        cached[name] = wb[sheet][cell.replace("$", "")].value
    for name, value in cached.items():
        assert value == pytest.approx(ours[name], rel=1e-6), name
    assert 0.05 < ours["loss"] < 0.25
