"""A web app for a trained model: a Gradio page and a JSON endpoint on one ASGI server.

    fastlearn serve runs/demo/model --port 7860
    curl --data-binary @digit.png http://127.0.0.1:7860/predict

GET / is a Gradio page (upload an image, see the top classes with probabilities; Gradio is what
the course deploys to Hugging Face Spaces). POST /predict takes the image as the request body
(or as the `image` field of a multipart form) and answers {"label", "probability", "top":
[[class, p], ...]}; GET /health. A non-image or oversized upload gets a clear message (a 400/413
JSON error, or an error notice on the page) and the server keeps serving. Everything runs
offline: the page's scripts ship inside the gradio package, analytics are off, and the theme uses
the system's fonts rather than Google's.

Needs the `app` extra: pip install "fastlearn[app]".
"""

import os
import threading
from pathlib import Path

from fastlearn.data.images import BadImageError

__all__ = ["make_app", "serve", "MAX_UPLOAD_BYTES"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _require_gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import fastapi  # noqa: F401
        import gradio
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"the web app needs gradio ({e.name} is missing): pip install 'fastlearn[app]'") from e
    return gradio


def _page(gr, predictor, predict_one, k: int):
    title = f"{predictor.manifest['arch']} classifier"
    shown = ", ".join(predictor.classes[:20]) + (" ..." if len(predictor.classes) > 20 else "")

    def on_upload(path):
        if path is None:
            return None, None
        try:
            result = predict_one(path)
        except BadImageError as e:
            raise gr.Error(f"cannot read this file: {e.reason}. Upload an image (JPEG, PNG, WebP, ...).",
                           print_exception=False) from None
        return path, {c: p for c, p in result.top}

    # A File input, not gr.Image: gr.Image decodes uploads itself and answers a non-image with a
    # stack of internals, while here our own decoder names the problem.
    with gr.Blocks(title=f"fastlearn: {title}", analytics_enabled=False) as page:
        gr.Markdown(f"# {title}\n{len(predictor.classes)} classes: {shown}")
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="upload an image", file_types=["image"], type="filepath",
                                 elem_id="upload")
                preview = gr.Image(label="image", interactive=False, elem_id="preview")
            label = gr.Label(num_top_classes=k, label="prediction",
                             elem_id="prediction")
        upload.change(on_upload, upload, [preview, label], api_name="classify")
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    return page, theme


def make_app(model: str | Path, max_bytes: int = MAX_UPLOAD_BYTES):
    """The ASGI app (FastAPI) for the bundle at `model`: the Gradio page at /, POST /predict, GET /health."""
    gr = _require_gradio()
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from fastlearn import load_learner
    predictor = load_learner(model)
    lock = threading.Lock()  # one model, one prediction at a time
    k = min(5, len(predictor.classes))

    def predict_one(item):
        with lock:
            return predictor.predict(item, k=k)

    app = FastAPI(title="fastlearn", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health():
        return {"status": "ok", "classes": predictor.classes}

    @app.post("/predict")
    async def predict(request: Request):
        error = lambda code, msg: JSONResponse({"error": msg}, status_code=code)  # noqa: E731
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes:
            # Read and drop the body (never held in memory): answering while the client is still
            # sending resets the connection, and the client would see that instead of this message.
            async for _ in request.stream():
                pass
            return error(413, f"upload of {declared} bytes is over the limit of {max_bytes} bytes")
        body = await request.body()
        if len(body) > max_bytes:
            return error(413, f"upload of {len(body)} bytes is over the limit of {max_bytes} bytes")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form()
            part = form.get("image") or form.get("file")
            if part is None or isinstance(part, str):
                return error(400, "multipart upload without an 'image' file field")
            body = await part.read()
        if not body:
            return error(400, "empty upload: send an image file")
        try:
            result = predict_one(body)
        except BadImageError as e:
            return error(400, f"not an image we can read: {e.reason}")
        except Exception as e:  # the server keeps serving whatever one request does
            return error(500, f"prediction failed: {e}")
        return {"label": result.label, "probability": result.probability,
                "top": [[c, p] for c, p in result.top]}

    page, theme = _page(gr, predictor, predict_one, k)
    return gr.mount_gradio_app(app, page, path="/", max_file_size=max_bytes, theme=theme,
                               footer_links=[], ssr_mode=False)


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve until interrupted (`port=0` picks a free port; the printed address names it)."""
    import socket

    import uvicorn
    app = make_app(model)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # bound and listening here: the address printed is real and answers at once
    sock.listen(128)
    print(f"serving {model} on http://{host}:{sock.getsockname()[1]}/  (Ctrl-C to stop)", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
