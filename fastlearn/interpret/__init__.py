"""Interpretation: what the model gets right and wrong, calibration, and the HTML report."""
from fastlearn.interpret.calibration import (
    CalibrationReport, expected_calibration_error, fit_temperature, reliability_diagram,
)
from fastlearn.interpret.interpretation import Interpretation
from fastlearn.interpret.report import write_report

__all__ = ["Interpretation", "CalibrationReport", "fit_temperature", "expected_calibration_error",
           "reliability_diagram", "write_report"]
