"""The web app in a real browser: upload a digit, read the predicted class."""
import json
import os
import shutil
import threading
import time
import urllib.request

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


@pytest.fixture(scope="module")
def server(trained_digits, tmp_path_factory):
    import uvicorn
    bundle = trained_digits.export(tmp_path_factory.mktemp("app") / "model")
    srv = uvicorn.Server(uvicorn.Config(make_app(bundle, max_bytes=2_000_000), host="127.0.0.1", port=0,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}/"
    srv.should_exit = True
    thread.join(10)


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
