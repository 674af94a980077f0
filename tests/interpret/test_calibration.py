"""Temperature scaling lowers validation log loss; ECE computed by hand."""
import pytest
import torch

from fastlearn.interpret.calibration import expected_calibration_error, fit_temperature


def test_ece_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    targets = torch.tensor([0, 1, 0, 1])
    # bins of width 1/15: confidences 0.9, 0.8, 0.6, 0.7 each alone; correct 1, 0, 1, 1
    by_hand = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.6) + abs(1 - 0.7)) / 4
    assert expected_calibration_error(probs, targets) == pytest.approx(by_hand)


def test_temperature_recovers_a_known_overconfidence(trained_digits):
    logits, targets = trained_digits.get_preds("valid")
    t_base = fit_temperature(logits, targets)
    assert fit_temperature(logits * 4, targets) == pytest.approx(4 * t_base, rel=0.02)


def test_calibrate_lowers_log_loss_and_is_used_by_predictions(trained_digits, tmp_path):
    learn = trained_digits
    logits, targets = learn.get_preds("valid")
    saved = learn.model.head.fc[-1].weight.data.clone()
    try:
        learn.model.head.fc[-1].weight.data *= 3  # an overconfident model, as long training makes them
        report = learn.calibrate()
        assert report.temperature > 1.5
        assert report.log_loss_after < report.log_loss_before and report.ece_after < report.ece_before
        probs, _ = learn.predict()
        raw, _ = learn.get_preds("valid")
        assert torch.allclose(probs, torch.softmax(raw / report.temperature, 1), atol=1e-6)
        assert "->" in str(report)
        report.plot().savefig(tmp_path / "reliability.png")
    finally:
        learn.model.head.fc[-1].weight.data.copy_(saved)
        learn.temperature = 1.0
