"""A web app for a trained model: a Gradio page and a JSON endpoint on one ASGI server.

    fastlearn serve runs/demo/model --port 7860
    curl --data-binary @digit.png http://127.0.0.1:7860/predict
    curl -H 'Content-Type: application/json' -d '{"sex": "female", "age": 30}' http://127.0.0.1:7860/predict

A table model's page is a form with one field per column, and its POST /predict takes a JSON
row (an object of column -> value) or a list of rows, answering one prediction or a list.

GET / is a Gradio page (upload an image, see the top classes with probabilities; Gradio is what
the course deploys to Hugging Face Spaces). POST /predict takes the image as the request body,
whatever its Content-Type, or as the `image` (or `file`) field of a multipart/form-data body,
and answers {"label", "probability", "top": [[class, p], ...]}; GET /health. Everything runs
offline: the page's scripts ship inside the gradio package, analytics are off, and the theme uses
the system's fonts rather than Google's.

Limits: an upload is counted while it streams in and refused (413) past `max_bytes` (20 MB),
chunked or not; an image of more than `max_pixels` (40 megapixels) is refused (400) from its
header, before decoding; JPEGs are decoded at reduced scale when the model's size allows. A bad
upload gets a message that says what is wrong, never the server's internals, and the server
keeps serving. Decoding runs on worker threads and the model on its own thread, so the event
loop never waits for a prediction; requests that arrive together share one forward pass
(`fastlearn.infer.batcher`).

Needs the `app` extra: pip install "fastlearn[app]".
"""

import asyncio
import logging
import os
from pathlib import Path

import json

from fastlearn.vision.data.images import BadImageError

__all__ = ["make_app", "serve", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS"]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
_log = logging.getLogger("fastlearn.app")


class _TooLarge(Exception):
    pass


async def _read_body(request, max_bytes: int) -> bytes:
    """The request body, counted as it streams in: past `max_bytes` the rest is read and dropped
    (answering before the client has sent everything would reset its connection, and it would
    see that instead of the message), so memory never holds more than `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        async for _ in request.stream():
            pass
        raise _TooLarge(f"upload of {declared} bytes is over the limit of {max_bytes} bytes")
    buf, seen = bytearray(), 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen <= max_bytes:
            buf += chunk
        elif buf:
            buf = bytearray()  # over the limit: keep nothing, count the rest
    if seen > max_bytes:
        raise _TooLarge(f"upload of more than {max_bytes} bytes is over the limit")
    return bytes(buf)


async def _multipart_image(request, body: bytes, max_bytes: int) -> bytes | None:
    """The `image` (or `file`) field of a multipart body already read (and so already bounded)."""
    from starlette.requests import Request

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=4, max_fields=16, max_part_size=max_bytes)
    part = form.get("image") or form.get("file")
    if part is None or isinstance(part, str):
        return None
    return await part.read()


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


def _error(code: int, message: str):
    """A JSON error answer: {"error": message}."""
    from fastapi.responses import JSONResponse
    return JSONResponse({"error": message}, status_code=code)


def _api(predictor, **health):
    """The FastAPI app every kind's server starts from, with GET /health."""
    from fastapi import FastAPI
    app = FastAPI(title="fastlearn", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health_check():
        return {"status": "ok", "classes": predictor.classes, **health}
    return app


def make_app(model: str | Path, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
             max_batch: int = 16):
    """The ASGI app (FastAPI) for the bundle at `model`: the Gradio page at /, POST /predict, GET /health.
    `max_batch=1` answers each request with its own forward pass (no batching)."""
    gr = _require_gradio()
    from fastapi import Request

    from fastlearn import load_learner
    from fastlearn.infer.batcher import PredictionBatcher
    from fastlearn.infer.bundle import read_manifest
    kind = read_manifest(model)[0]["kind"]
    if kind == "table":
        return _table_app(gr, load_learner(model), max_bytes)
    if kind == "text":
        return _text_app(gr, load_learner(model), max_bytes)
    predictor = load_learner(model, max_pixels=max_pixels)
    k = min(5, len(predictor.classes))
    batcher = PredictionBatcher(predictor, k, max_batch=max_batch)

    def pixels(item):
        batcher.announce()
        try:
            return predictor.pixels(item, "upload")
        except BaseException:
            batcher.withdraw()
            raise

    def predict_one(item):  # for the page, whose handlers run on Gradio's worker threads
        return batcher.submit(pixels(item)).result()

    app = _api(predictor)
    app.state.batcher = batcher

    @app.post("/predict")
    async def predict(request: Request):
        try:
            body = await _read_body(request, max_bytes)
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                body = await _multipart_image(request, body, max_bytes)
                if body is None:
                    return _error(400, "multipart upload without an 'image' file field")
        except _TooLarge as e:
            return _error(413, str(e))
        except Exception:  # a malformed multipart body, a client gone mid-upload
            return _error(400, "the upload could not be read: send the image as the body, or as the 'image' "
                              "field of a multipart/form-data form")
        if not body:
            return _error(400, "empty upload: send an image file")
        try:
            result = await asyncio.wrap_future(batcher.submit(await asyncio.to_thread(pixels, body)))
        except BadImageError as e:
            return _error(400, f"not an image we can read: {e.reason}")
        except Exception:  # the server keeps serving whatever one request does; details go to its log only
            _log.exception("prediction failed")
            return _error(500, "prediction failed; the server's log has the details")
        return _answer(result)

    page, theme = _page(gr, predictor, predict_one, k)
    return gr.mount_gradio_app(app, page, path="/", max_file_size=max_bytes, theme=theme,
                               footer_links=[], ssr_mode=False)


def _answer(result) -> dict:
    return {"label": result.label, "probability": result.probability, "top": [[c, p] for c, p in result.top]}


def _table_app(gr, predictor, max_bytes: int):
    """The app for a table model: a form with a field per column, POST /predict with JSON rows."""
    import warnings

    from fastapi import Request

    columns = predictor.columns
    app = _api(predictor, columns=columns)

    @app.post("/predict")
    async def predict(request: Request):
        try:
            body = await _read_body(request, max_bytes)
            rows = json.loads(body)
        except _TooLarge as e:
            return _error(413, str(e))
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body must be JSON: a row {\"column\": value, ...} or a list of rows")
        one = isinstance(rows, dict)
        if not (one or isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)):
            return _error(400, "send a JSON row {\"column\": value, ...} or a non-empty list of rows; the columns "
                              f"are {', '.join(columns)}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a row may leave columns out: they count as missing
                results = await asyncio.to_thread(predictor.predict_many, [rows] if one else rows,
                                                  min(5, len(predictor.classes)))
        except Exception:
            _log.exception("prediction failed")
            return _error(500, "prediction failed; the server's log has the details")
        return _answer(results[0]) if one else [_answer(r) for r in results]

    proc = predictor.processor
    with gr.Blocks(title=f"fastlearn: {predictor.target}", analytics_enabled=False) as page:
        gr.Markdown(f"# Predict {predictor.target}\nFill in what you know; a field left empty counts as missing.")
        fields = []
        with gr.Row():
            with gr.Column():
                for i, c in enumerate(columns):
                    eid = f"column-{i}"  # the field of the i-th of `predictor.columns`
                    if c in proc.categories:
                        fields.append(gr.Dropdown(proc.categories[c], label=c, allow_custom_value=True, value=None,
                                                  elem_id=eid))
                    elif c in proc.cont_names:
                        fields.append(gr.Number(label=c, value=None, elem_id=eid))
                    else:
                        fields.append(gr.Textbox(label=f"{c} (a date)", elem_id=eid))
                go = gr.Button("predict", elem_id="go")
            label = gr.Label(num_top_classes=min(5, len(predictor.classes)), label="prediction", elem_id="prediction")

        def on_submit(*values):
            row = {c: v for c, v in zip(columns, values) if v not in (None, "")}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = predictor.predict(row, k=min(5, len(predictor.classes)))
            return {predictor.target: result.probability} if predictor.regression else dict(result.top)

        go.click(on_submit, fields, label, api_name="predict")
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    return gr.mount_gradio_app(app, page, path="/", theme=theme, footer_links=[], ssr_mode=False)


def _text_app(gr, predictor, max_bytes: int):
    """The app for a text model: a text box, POST /predict with {"text": ...} or {"texts": [...]}."""
    from fastapi import Request

    app = _api(predictor)
    k = min(5, len(predictor.classes))

    @app.post("/predict")
    async def predict(request: Request):
        try:
            body = json.loads(await _read_body(request, max_bytes))
        except _TooLarge as e:
            return _error(413, str(e))
        except (ValueError, UnicodeDecodeError):
            return _error(400, 'the body must be JSON: {"text": "..."} or {"texts": ["...", ...]}')
        one = isinstance(body, dict) and isinstance(body.get("text"), str)
        many = isinstance(body, dict) and isinstance(body.get("texts"), list) and body["texts"] and \
            all(isinstance(t, str) for t in body["texts"])
        if not (one or many):
            return _error(400, 'send {"text": "..."} or {"texts": ["...", ...]}')
        try:
            results = await asyncio.to_thread(predictor.predict_many, [body["text"]] if one else body["texts"], k)
        except Exception:
            _log.exception("prediction failed")
            return _error(500, "prediction failed; the server's log has the details")
        return _answer(results[0]) if one else [_answer(r) for r in results]

    with gr.Blocks(title="fastlearn: text", analytics_enabled=False) as page:
        gr.Markdown(f"# {predictor.manifest['arch']}: {', '.join(predictor.classes[:20])}")
        with gr.Row():
            with gr.Column():
                box = gr.Textbox(label="text", lines=4, elem_id="text")
                go = gr.Button("predict", elem_id="go")
            label = gr.Label(num_top_classes=k, label="prediction", elem_id="prediction")
        go.click(lambda t: dict(predictor.predict(t or "", k=k).top), box, label, api_name="predict")
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    return gr.mount_gradio_app(app, page, path="/", theme=theme, footer_links=[], ssr_mode=False)


def serve(model: str | Path, host: str = "127.0.0.1", port: int = 7860, max_bytes: int = MAX_UPLOAD_BYTES,
          max_pixels: int = MAX_UPLOAD_PIXELS, max_batch: int = 16) -> None:
    """Serve until interrupted (`port=0` picks a free port; the printed address names it)."""
    import socket

    import uvicorn
    app = make_app(model, max_bytes=max_bytes, max_pixels=max_pixels, max_batch=max_batch)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # bound and listening here: the address printed is real and answers at once
    sock.listen(128)
    print(f"serving {model} on http://{host}:{sock.getsockname()[1]}/  (Ctrl-C to stop)", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
