"""The Titanic spreadsheet of the 2022 lesson 3, written as a real .xlsx with live formulas: the
rows, the parameters PyTorch found, and every step (dummies, age over its maximum, LOG10 of the
fare, SUMPRODUCT, MAX(0, .) for the ReLUs, MMULT, the losses), so that LibreOffice or Excel,
recalculating it from scratch, gets the loss PyTorch got. Change a parameter and watch the loss,
or run Solver on it, as the lesson does."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fastlearn.scratch.titanic import FEATURES, fit_titanic, split_rows
from fastlearn.utils.atomic import atomic_path

__all__ = ["titanic_spreadsheet"]

RAW = ["survived", "pclass", "sex", "age", "fare", "sibsp", "parch"]
FIRST = 7  # the first data row; the parameters sit above the data
# Feature columns I..P follow the raw columns A..G and the validation flag H.
FEATURE_FORMULAS = {
    "Ones": "=1",
    "Sex_male": '=IF(C{r}="male",1,0)',
    "Pclass_1": "=IF(B{r}=1,1,0)",
    "Pclass_2": "=IF(B{r}=2,1,0)",
    "Age_N": "=D{r}/MAX($D${first}:$D${last})",
    "SibSp": "=F{r}",
    "Parch": "=G{r}",
    "LogFare": "=LOG10(E{r}+1)",
}


def _define(wb, name: str, ref: str) -> None:
    from openpyxl.workbook.defined_name import DefinedName
    dn = DefinedName(name, attr_text=ref)
    try:
        wb.defined_names[name] = dn  # openpyxl >= 3.1
    except TypeError:
        wb.defined_names.append(dn)


def titanic_spreadsheet(path: str | Path, df: pd.DataFrame | None = None, valid: np.ndarray | None = None,
                        overwrite: bool = False, **fit_options) -> dict:
    """Fit `fastlearn.scratch.fit_titanic` (on `df`, default the 714 Kaggle rows human-learn
    ships) and write `path` (.xlsx): sheet `titanic` with the data, the parameters and the
    formulas; sheet `matrix` with the same two ReLUs as one MMULT. Defined names: `loss` (the
    two ReLUs' mean squared error on the training rows), `accuracy` (on the validation rows, `valid`
    column 1), `linear_loss`, `linear_accuracy`, `matrix_loss`. Returns PyTorch's values of each."""
    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; nothing was written. Pass overwrite=True to replace it.")
    if df is None:
        from fastlearn.datasets import titanic_frame
        df = titanic_frame()
    missing = [c for c in RAW if c not in df.columns]
    if missing:
        raise ValueError(f"the table has no {', '.join(missing)} column(s); it needs {', '.join(RAW)}")
    df = df[RAW].reset_index(drop=True)
    valid = split_rows(len(df), seed=fit_options.get("seed", 0)) if valid is None else np.asarray(valid)
    fit = fit_titanic(df, valid, **fit_options)
    n, last = len(df), FIRST + len(df) - 1

    wb = Workbook()
    ws = wb.active
    ws.title = "titanic"
    feature_cols = [chr(ord("I") + k) for k in range(len(FEATURES))]  # I..P
    ws["H1"] = "parameters"
    for label, row, weights in (("linear", 2, fit.linear_weights), ("relu 1", 3, fit.relu_weights[0]),
                                ("relu 2", 4, fit.relu_weights[1])):
        ws[f"H{row}"] = label
        for col, w in zip(feature_cols, weights):
            ws[f"{col}{row}"] = float(w)
    header = RAW + ["valid"] + FEATURES + ["Linear", "Linear_err2", "Relu1", "Relu2", "Prediction", "Err2",
                                           "Correct", "Linear_correct"]
    for k, name in enumerate(header):
        ws.cell(row=FIRST - 1, column=k + 1, value=name)
    for i in range(n):
        r = FIRST + i
        for k, name in enumerate(RAW):
            v = df.at[i, name]
            ws.cell(row=r, column=k + 1, value=v.item() if hasattr(v, "item") else v)
        ws[f"H{r}"] = int(valid[i])
        for col, name in zip(feature_cols, FEATURES):
            ws[f"{col}{r}"] = FEATURE_FORMULAS[name].format(r=r, first=FIRST, last=last)
        ws[f"Q{r}"] = f"=SUMPRODUCT(I{r}:P{r},$I$2:$P$2)"
        ws[f"R{r}"] = f"=(Q{r}-A{r})^2"
        ws[f"S{r}"] = f"=MAX(0,SUMPRODUCT(I{r}:P{r},$I$3:$P$3))"
        ws[f"T{r}"] = f"=MAX(0,SUMPRODUCT(I{r}:P{r},$I$4:$P$4))"
        ws[f"U{r}"] = f"=S{r}+T{r}"
        ws[f"V{r}"] = f"=(U{r}-A{r})^2"
        ws[f"W{r}"] = f"=IF((U{r}>0.5)=(A{r}=1),1,0)"
        ws[f"X{r}"] = f"=IF((Q{r}>0.5)=(A{r}=1),1,0)"
    train_mean = "=SUMIF($H${first}:$H${last},0,{col}${first}:{col}${last})/COUNTIF($H${first}:$H${last},0)"
    valid_mean = "=AVERAGEIF($H${first}:$H${last},1,{col}${first}:{col}${last})"
    summary = {"linear_loss": ("Z1", train_mean, "R"), "linear_accuracy": ("Z2", valid_mean, "X"),
               "loss": ("Z3", train_mean, "V"), "accuracy": ("Z4", valid_mean, "W")}
    for name, (cell, formula, col) in summary.items():
        ws[f"Y{cell[1:]}"] = name
        ws[cell] = formula.format(first=FIRST, last=last, col=col)
        _define(wb, name, f"titanic!${cell[0]}${cell[1:]}")

    mx = wb.create_sheet("matrix")
    mx["A1"], mx["B1"], mx["C1"] = "feature", "relu 1", "relu 2"
    for k, (name, col) in enumerate(zip(FEATURES, feature_cols)):
        mx[f"A{k + 2}"] = name
        mx[f"B{k + 2}"] = f"=titanic!{col}3"  # the same parameters, as an 8 x 2 matrix
        mx[f"C{k + 2}"] = f"=titanic!{col}4"
    top = 12
    bottom = top + n - 1
    mx[f"A{top - 1}"], mx[f"B{top - 1}"], mx[f"C{top - 1}"], mx[f"D{top - 1}"] = "MMULT 1", "MMULT 2", "Prediction", "Err2"
    mx[f"A{top}"] = ArrayFormula(f"A{top}:B{bottom}", f"=MMULT(titanic!I{FIRST}:P{last},$B$2:$C$9)")
    for i in range(n):
        r = top + i
        mx[f"C{r}"] = f"=MAX(0,A{r})+MAX(0,B{r})"
        mx[f"D{r}"] = f"=(C{r}-titanic!A{FIRST + i})^2"
    mx["F1"] = "matrix_loss"
    mx["G1"] = (f"=SUMIF(titanic!$H${FIRST}:$H${last},0,$D${top}:$D${bottom})"
                f"/COUNTIF(titanic!$H${FIRST}:$H${last},0)")
    _define(wb, "matrix_loss", "matrix!$G$1")
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return {"loss": fit.loss, "accuracy": fit.accuracy, "linear_loss": fit.linear_loss,
            "linear_accuracy": fit.linear_accuracy, "matrix_loss": fit.loss, "path": str(path)}
