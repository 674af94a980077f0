"""The views select the right images, checked against the probabilities."""
import numpy as np
import pytest



@pytest.fixture(scope="module")
def interp(trained_digits):
    return trained_digits.interpret()


def test_most_correct_and_incorrect_per_class(interp):
    p, y, pred = interp.probs, interp.targets, interp.preds
    for c in range(10):
        best = interp.most_correct(c, 4)
        assert all(y[i] == c and pred[i] == c for i in best)
        pool = np.flatnonzero((y == c) & (pred == c))
        assert np.allclose(np.sort(p[best, c])[::-1], np.sort(p[pool, c])[::-1][:4])
        wrong = interp.most_incorrect(c, 4)
        assert all(y[i] == c and pred[i] != c for i in wrong)
        pool = np.flatnonzero((y == c) & (pred != c))
        assert np.allclose(np.sort(p[wrong].max(1))[::-1], np.sort(p[pool].max(1))[::-1][:len(wrong)])


def test_random_uncertain_and_top_losses(interp):
    p, y, pred = interp.probs, interp.targets, interp.preds
    assert all(pred[i] == y[i] for i in interp.random_correct(6))
    assert all(pred[i] != y[i] for i in interp.random_incorrect(6))
    margin = np.diff(np.sort(p, 1)[:, -2:], axis=1).ravel()
    assert np.allclose(np.sort(margin[interp.most_uncertain(5)]), np.sort(margin)[:5])
    loss = -np.log(p[np.arange(len(y)), y])
    assert np.allclose(np.sort(loss[interp.top_losses(9)])[::-1], np.sort(loss)[::-1][:9], rtol=1e-5)


def test_confusion_and_most_confused(interp):
    cm = interp.confusion_matrix()
    assert cm.sum() == len(interp.targets) and np.trace(cm) == (interp.preds == interp.targets).sum()
    pairs = interp.most_confused(1)
    assert all(cm[int(a), int(b)] == n for a, b, n in pairs) and [n for *_, n in pairs] == sorted(
        [n for *_, n in pairs], reverse=True)
    assert sum(n for *_, n in pairs) == cm.sum() - np.trace(cm)


def test_plots_are_headless_figures_with_probability_titles(interp, tmp_path):
    figs = [interp.plot_random_correct(), interp.plot_random_incorrect(), interp.plot_most_correct("7"),
            interp.plot_most_incorrect(3), interp.plot_most_uncertain(), interp.plot_top_losses(9),
            interp.plot_confusion_matrix(), interp.plot_confusion_matrix(normalize=True)]
    for i, fig in enumerate(figs):
        fig.savefig(tmp_path / f"{i}.png")
        assert (tmp_path / f"{i}.png").stat().st_size > 2000
    i = interp.most_correct("7", 1)[0]
    titles = [ax.get_title() for ax in figs[2].axes if ax.get_title()]
    assert titles[0] == f"7 / 7\np={interp.probs[i].max():.3f}"
    cm_texts = {t.get_text() for t in figs[6].axes[0].texts}
    assert str(interp.confusion_matrix()[0, 0]) in cm_texts
