"""A web app for a trained model: an upload page and a JSON endpoint, on the standard library.

    fastlearn serve runs/demo/model --port 7860
    curl --data-binary @digit.png http://127.0.0.1:7860/predict

GET / is the page; POST /predict takes the image as the request body (or as the `image` field of
a multipart form) and answers {"label", "probability", "top": [[class, p], ...]}; GET /health.
A non-image or oversized upload gets a 400/413 JSON error and the server keeps serving.
"""
from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fastlearn.data.images import BadImageError

__all__ = ["make_server", "serve", "MAX_UPLOAD_BYTES"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024

_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>fastlearn: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:640px;margin:3em auto;color:#222}}
#preview{{max-width:256px;max-height:256px;display:block;margin:1em 0;image-rendering:pixelated}}
table{{border-collapse:collapse}}td{{padding:3px 10px;border-bottom:1px solid #ddd}}
.bar{{background:#4a90d9;height:10px}}#error{{color:#b00}}</style></head><body>
<h1>{title}</h1><p>{n} classes: {classes}</p>
<input type="file" id="file" accept="image/*">
<img id="preview" alt="">
<p id="error"></p><p id="result"></p><table id="top"></table>
<script>
const input = document.getElementById('file');
input.addEventListener('change', async () => {{
  const f = input.files[0]; if (!f) return;
  document.getElementById('preview').src = URL.createObjectURL(f);
  document.getElementById('error').textContent = ''; document.getElementById('result').textContent = 'predicting...';
  const r = await fetch('predict', {{method: 'POST', body: f}});
  const j = await r.json();
  const table = document.getElementById('top'); table.innerHTML = '';
  if (!r.ok) {{ document.getElementById('result').textContent = '';
               document.getElementById('error').textContent = j.error; return; }}
  document.getElementById('result').innerHTML = 'Prediction: <b id="label">' + [].concat(j.label).join(' ') +
      '</b> (' + (100 * j.probability).toFixed(1) + '%)';
  for (const [c, p] of j.top) {{
    const row = table.insertRow(); row.insertCell().textContent = c;
    row.insertCell().textContent = (100 * p).toFixed(2) + '%';
    row.insertCell().innerHTML = '<div class="bar" style="width:' + Math.round(200 * p) + 'px"></div>';
  }}
}});
</script></body></html>"""


def _handler(predictor, page: bytes, max_bytes: int):
    lock = threading.Lock()  # one model, one prediction at a time

    class Handler(BaseHTTPRequestHandler):
        server_version = "fastlearn"

        def log_message(self, fmt, *args):  # keep the terminal for errors
            pass

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj) -> None:
            self._send(code, json.dumps(obj).encode(), "application/json")

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self._send(200, page, "text/html; charset=utf-8")
            elif self.path == "/health":
                self._json(200, {"status": "ok", "classes": predictor.classes})
            else:
                self._json(404, {"error": f"no page {self.path}; try / or POST /predict"})

        def _image_bytes(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_bytes:
                self.rfile.read(length)
                self._json(413, {"error": f"upload of {length} bytes is over the limit of {max_bytes} bytes"})
                return None
            if length == 0:
                self._json(400, {"error": "empty upload: send an image file"})
                return None
            body = self.rfile.read(length)
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                msg = BytesParser(policy=email_policy).parsebytes(
                    f"Content-Type: {ctype}\r\n\r\n".encode() + body)
                parts = [p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") in
                         ("image", "file")]
                if not parts:
                    self._json(400, {"error": "multipart upload without an 'image' field"})
                    return None
                body = parts[0].get_payload(decode=True)
            return body

        def do_POST(self):
            if self.path != "/predict":
                self._json(404, {"error": "POST images to /predict"})
                return
            data = self._image_bytes()
            if data is None:
                return
            try:
                with lock:
                    result = predictor.predict(data, k=min(5, len(predictor.classes)))
            except BadImageError as e:
                self._json(400, {"error": f"not an image we can read: {e.reason}"})
                return
            except Exception as e:  # the server keeps serving whatever one request does
                self._json(500, {"error": f"prediction failed: {e}"})
                return
            self._json(200, {"label": result.label, "probability": result.probability,
                             "top": [[c, p] for c, p in result.top]})

    return Handler


def make_server(model: str | Path, host: str = "127.0.0.1", port: int = 7860,
                max_bytes: int = MAX_UPLOAD_BYTES) -> ThreadingHTTPServer:
    """A server for the bundle at `model` (not yet serving; call serve_forever)."""
    from fastlearn import load_learner
    import html
    predictor = load_learner(model)
    title = html.escape(f"{predictor.manifest['arch']} classifier")
    shown = ", ".join(predictor.classes[:20]) + (" ..." if len(predictor.classes) > 20 else "")
    page = _PAGE.format(title=title, n=len(predictor.classes), classes=html.escape(shown)).encode()
    return ThreadingHTTPServer((host, port), _handler(predictor, page, max_bytes))


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted."""
    server = make_server(model, host, port)
    print(f"serving {model} on http://{host}:{server.server_address[1]}/  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
