"""One self-contained HTML page about a trained learner: curves, lr_find, confusion, top losses,
reliability and per-class metrics. Figures are embedded as PNG data, so the file travels alone."""
from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path

from fastlearn.utils.atomic import atomic_path

__all__ = ["write_report"]

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
img{max-width:100%;height:auto}table{border-collapse:collapse}td,th{padding:2px 8px;border:1px solid #ccc;text-align:right}
.grid{display:flex;flex-wrap:wrap;gap:1em}.grid figure{margin:0;flex:1 1 45%}"""

# Marks the page as rendered once every embedded figure decoded (a headless browser test reads it).
_CHECK = """<script>window.addEventListener('load',function(){var imgs=document.images,ok=imgs.length>0;
for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0){ok=false;}}
document.body.setAttribute('data-figures',ok?'ok':'broken');});</script>"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figure(title: str, fig) -> str:
    return f'<figure><figcaption>{html.escape(title)}</figcaption><img alt="{html.escape(title)}" ' \
           f'src="data:image/png;base64,{_png(fig)}"></figure>'


def write_report(learn, path: str | Path, k_losses: int = 9, predictions=None, tables=None) -> Path:
    """Write the report for `learn` (single-label) on its validation set to `path`.
    `predictions`: (probabilities, targets) of the validation set, if already computed;
    `tables`: {title: DataFrame} shown first (the table recipe's comparison of models)."""
    from fastlearn.infer.predictions import evaluate, predict
    from fastlearn.interpret.calibration import expected_calibration_error, reliability_diagram
    from fastlearn.interpret.interpretation import Interpretation

    probs, targets = predictions if predictions is not None else predict(learn, "valid")
    interp = Interpretation.from_predictions(learn.data, "valid", probs, targets)
    ev = evaluate(probs, targets, list(learn.data.classes))
    meta = getattr(learn.model, "meta", {})
    parts = [f"<h1>fastlearn report: {html.escape(str(meta.get('arch', 'model')))}</h1>",
             f"<p>{len(learn.data.classes)} classes, {len(targets)} validation "
             f"{'rows' if getattr(learn.data, 'kind', 'image') == 'table' else 'images'}, "
             f"{learn.epoch} epochs; accuracy <b>{ev.accuracy:.4f}</b>, log loss {ev.log_loss:.4f}, "
             f"ECE {expected_calibration_error(probs, targets):.4f}, temperature {learn.temperature:.3f}. "
             f"Written {time.strftime('%Y-%m-%d %H:%M')}.</p>"]
    for title, table in (tables or {}).items():
        parts.append(f"<h2>{html.escape(title)}</h2>" + table.to_html(float_format=lambda v: f"{v:.4f}"))
    if learn.recorder.rows:
        parts.append("<h2>Training</h2><div class='grid'>" + _figure("loss", learn.recorder.plot_loss())
                     + _figure("learning rate per layer group", learn.recorder.plot_lr(all_groups=True)) + "</div>")
        cols = [c for c in learn.recorder.rows[0] if c != "iteration"]
        rows = "".join("<tr>" + "".join(f"<td>{r[c]:.4f}</td>" if isinstance(r[c], float) else f"<td>{r[c]}</td>"
                                        for c in cols) + "</tr>" for r in learn.recorder.rows)
        parts.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in cols) + f"</tr>{rows}</table>")
    for ev_ in getattr(learn, "rollbacks", []):
        what = ("the run ended worse than its best epoch" if ev_.get("at_end") else ev_.get("reason") or
                f"validation loss {ev_['valid_loss']:.4f} rose far above the best ({ev_['best_valid_loss']:.4f})")
        parts.append(f"<p class='warn'>Epoch {ev_['epoch']}: {html.escape(what)}; the weights of epoch "
                     f"{ev_['back_to_epoch']} were put back" + ("" if ev_.get("at_end") else
                     f" and training went on at {ev_['lr_scale']:g}x the learning rates") + ".</p>")
    if learn.lr_finder is not None:
        parts.append("<h2>Learning-rate finder</h2>" + _figure(repr(learn.lr_finder), learn.lr_finder.plot()))
    parts.append("<h2>Confusion matrix</h2><div class='grid'>" + _figure("counts", interp.plot_confusion_matrix())
                 + "</div>")
    confused = interp.most_confused(1)[:10]
    if confused:
        parts.append("<p>Most confused (actual, predicted, count): "
                     + ", ".join(html.escape(f"{a} as {p}: {n}") for a, p, n in confused) + "</p>")
    parts.append("<h2>Top losses</h2>" + _figure("highest log loss", interp.plot_top_losses(k_losses)))
    parts.append("<h2>Calibration</h2>" + _figure("reliability (15 bins)", reliability_diagram(probs, targets)))
    parts.append("<h2>Per-class metrics</h2>" + ev.per_class.to_html(float_format=lambda v: f"{v:.3f}"))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>fastlearn report</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}{_CHECK}</body></html>")
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
