"""The course's foundations in plain PyTorch, small enough to read in one sitting: a line fitted
by SGD with the derivatives by hand and by autograd, a quadratic fitted by gradient descent (and
by hand with sliders), sums of ReLUs that fit any curve, and the Titanic model of the 2022
lesson 3 spreadsheet, in PyTorch and as a live spreadsheet.

    from fastlearn.scratch import fit_line_by_hand, fit_line_autograd, titanic_spreadsheet
"""
from fastlearn.scratch.line import fit_line_autograd, fit_line_by_hand, plot_line_fit
from fastlearn.scratch.quadratic import fit_quadratic, mae, mse, noisy_quadratic, quadratic, quadratic_sliders
from fastlearn.scratch.relus import fit_relus, rectified_linear, relu_errors
from fastlearn.scratch.titanic import TitanicFit, fit_titanic, titanic_features
from fastlearn.scratch.spreadsheet import titanic_spreadsheet

__all__ = ["fit_line_by_hand", "fit_line_autograd", "plot_line_fit", "quadratic", "noisy_quadratic", "mse", "mae",
           "fit_quadratic", "quadratic_sliders", "rectified_linear", "fit_relus", "relu_errors", "titanic_features",
           "fit_titanic", "TitanicFit", "titanic_spreadsheet"]
