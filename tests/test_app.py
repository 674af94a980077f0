"""The web app in a real browser: upload a digit, read the predicted class."""
import contextlib
import json
import os
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from fastlearn.app import make_app


def _driver():
    chromedriver = shutil.which("chromedriver")
    if not chromedriver or not shutil.which("chromium"):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(chromedriver), options=opts)


@contextlib.contextmanager
def _serving(app):
    """`app` served by uvicorn on a thread, on a free port; yields its address."""
    import uvicorn
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}/"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(trained_digits, tmp_path_factory):
    bundle = trained_digits.export(tmp_path_factory.mktemp("app") / "model")
    with _serving(make_app(bundle, max_bytes=2_000_000)) as url:
        yield url


def _upload(driver, path, timeout=60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    field = WebDriverWait(driver, timeout).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#upload input[type=file]")))
    field.send_keys(str(path))


def _wait_text(driver, css, containing="", timeout=60):
    """The first non-empty text of an element matching `css` (that contains `containing`)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(lambda d: next(
        (e.text for e in d.find_elements(By.CSS_SELECTOR, css) if e.text.strip() and containing in e.text), False))


def test_upload_a_digit_in_the_browser(server, trained_digits, tmp_path):
    from selenium.webdriver.common.by import By
    data = trained_digits.data
    probs, targets = trained_digits.predict()
    i = int(((probs.argmax(1) == targets) & (probs.max(1).values > 0.9)).nonzero()[0])
    path, truth = data.paths_of("valid")[i], data.classes[int(targets[i])]
    driver = _driver()
    try:
        driver.get(server)
        _wait_text(driver, "body", "10 classes")
        _upload(driver, path)
        assert _wait_text(driver, "#prediction [data-testid=label-output-value]") == truth
        assert len(driver.find_elements(By.CSS_SELECTOR, "#prediction [data-testid$=-confidence-set]")) == 5
        # A non-image gets our decoder's message, and the page still classifies afterwards.
        bad = tmp_path / "notes.png"
        bad.write_text("these are notes, not a picture")
        driver.get(server)
        _upload(driver, bad)
        assert "cannot read this file" in _wait_text(driver, "[data-testid=toast-text]")
        big = tmp_path / "big.png"
        big.write_bytes(path.read_bytes() + b"\0" * 2_000_001)
        driver.get(server)
        _upload(driver, big)
        assert "maximum allowed size" in _wait_text(driver, "[data-testid=toast-text]")
        driver.get(server)
        _upload(driver, path)
        assert _wait_text(driver, "#prediction [data-testid=label-output-value]") == truth
    finally:
        driver.quit()


def test_json_endpoint_refuses_bad_and_oversized_uploads_and_keeps_serving(server, trained_digits):
    def post(body, ctype="application/octet-stream"):
        req = urllib.request.Request(server + "predict", data=body, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    digit = trained_digits.data.paths_of("valid")[0].read_bytes()
    assert post(b"")[0] == 400
    assert post(b"GIF89a broken")[0] == 400
    code, body = post(b"x" * 2_000_001)
    assert code == 413 and "limit" in body["error"]
    boundary = "XyZ"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + digit + f"\r\n--{boundary}--\r\n".encode()
    code, body = post(form, f"multipart/form-data; boundary={boundary}")
    assert code == 200 and body["label"] == post(digit)[1]["label"]
    with urllib.request.urlopen(server + "health") as r:
        assert json.loads(r.read())["status"] == "ok"


@pytest.fixture(scope="module")
def served(trained_digits, tmp_path_factory):
    """`fastlearn serve` in its own process, so its memory can be read from /proc."""
    import subprocess
    import sys
    bundle = trained_digits.export(tmp_path_factory.mktemp("served") / "model")
    cmd = [str(Path(sys.executable).with_name("fastlearn")), "serve", str(bundle), "--port", "0", "--max-mb", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split(" on ", 1)[1].split()[0]
    yield url, proc
    proc.terminate()
    proc.wait(10)


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def _chunked_post(url: str, path: str, chunks, headers: dict | None = None) -> tuple[int, bytes]:
    import http.client
    from urllib.parse import urlparse
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("POST", path, body=chunks, headers=headers or {}, encode_chunked=True)
    r = conn.getresponse()
    return r.status, r.read()


def test_a_chunked_upload_is_refused_at_the_limit_without_being_held_in_memory(served):
    url, proc = served
    with urllib.request.urlopen(url + "health") as r:
        assert r.status == 200
    before = _peak_mb(proc.pid)
    code, body = _chunked_post(url, "/predict", (b"\0" * (1 << 20) for _ in range(300)))  # 300 MB, no length
    assert code == 413 and "limit" in json.loads(body)["error"]
    boundary = "B0undary"
    form = iter([f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.png\"\r\n"
                 f"Content-Type: image/png\r\n\r\n".encode(), *(b"\0" * (1 << 20) for _ in range(300)),
                 f"\r\n--{boundary}--\r\n".encode()])
    code, _ = _chunked_post(url, "/gradio_api/upload", form,
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert code in (400, 413)  # the page's uploads have the same limit
    assert _peak_mb(proc.pid) - before < 100, "the upload was held in memory"


def test_an_image_with_huge_dimensions_is_refused_before_decoding(served, tmp_path):
    import io
    from PIL import Image
    url, proc = served
    buf = io.BytesIO()
    Image.new("L", (13000, 13000)).save(buf, "PNG")  # 13000 x 13000 pixels in about 160 KB
    assert len(buf.getvalue()) < 2_000_000
    before = _peak_mb(proc.pid)
    req = urllib.request.Request(url + "predict", data=buf.getvalue())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    message = json.loads(e.value.read())["error"]
    assert e.value.code == 400 and "13000x13000 pixels is over the limit of 40000000" in message
    assert _peak_mb(proc.pid) - before < 50
    for junk in (b"GIF89a broken", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"<html>no</html>"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url + "predict", data=junk))
        message = json.loads(e.value.read())["error"]
        assert e.value.code == 400 and " at 0x" not in message and "object" not in message and "Traceback" not in message


def test_concurrent_requests_share_forward_passes_and_get_their_own_answers(server, trained_digits):
    from concurrent.futures import ThreadPoolExecutor
    paths = trained_digits.data.paths_of("valid")[:24]

    def post(p):
        req = urllib.request.Request(server + "predict", data=p.read_bytes())
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["label"]
    alone = [post(p) for p in paths]
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(post, paths))
    assert together == alone  # each request gets its own image's answer
    assert alone == [trained_digits.data.classes[int(i)] for i in
                     load_probs(trained_digits, paths).argmax(1)]


def load_probs(learn, paths):
    import tempfile
    from fastlearn import load_learner
    with tempfile.TemporaryDirectory() as d:
        return load_learner(learn.export(Path(d) / "m")).probs(paths)


def test_a_table_models_page_is_a_form_that_predicts_a_row(titanic_df, tmp_path):
    """The page of a table model in a browser: fill in a passenger, read the prediction."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from fastlearn import Learner, TabularData, load_learner
    data = TabularData.from_df(titanic_df, "survived", seed=0)
    learn = Learner.tabular(data, seed=0, progress=False)
    learn.fit_one_cycle(5, 1e-2)
    bundle = learn.export(tmp_path / "model")
    pred = load_learner(bundle)
    rows = [{"pclass": "1", "sex": "female", "age": 30, "fare": 80, "sibsp": "0", "parch": "0"},
            {"pclass": "3", "sex": "male", "age": 30, "fare": 8, "sibsp": "0", "parch": "0"}]
    expected = [pred.predict(row).label for row in rows]
    assert expected == ["1", "0"]  # two answers, so an empty form could not pass for both
    driver = _driver()
    try:
        with _serving(make_app(bundle)) as url:
            for row, label in zip(rows, expected):
                driver.get(url)
                _wait_text(driver, "body", "Predict survived")
                for i, column in enumerate(pred.columns):
                    box = driver.find_element(By.CSS_SELECTOR, f"#column-{i} input")
                    box.send_keys(str(row[column]))
                    box.send_keys(Keys.TAB)
                driver.find_element(By.CSS_SELECTOR, "#go").click()
                assert _wait_text(driver, "#prediction [data-testid=label-output-value]") == label
    finally:
        driver.quit()
