"""Export bundles: reload in a fresh process without the training data, refuse tampering, ONNX parity."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from fastlearn import load_learner
from fastlearn.infer import BundleError


@pytest.fixture(scope="module")
def bundle(trained_digits, tmp_path_factory):
    return trained_digits.export(tmp_path_factory.mktemp("export") / "digits")


def test_bundle_is_safetensors_and_json_without_pickle(bundle):
    names = sorted(p.name for p in bundle.iterdir())
    assert names == ["SHA256SUMS", "manifest.json", "model.safetensors"]
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == 2  # verifiable with standard tools
    mask = os.umask(0o022)
    os.umask(mask)
    assert {p.name: p.stat().st_mode & 0o777 for p in bundle.iterdir()} == dict.fromkeys(names, 0o666 & ~mask)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["arch"] == "tf_efficientnet_lite0" and manifest["classes"] == [str(d) for d in range(10)]
    assert manifest["mean"] == [0.5, 0.5, 0.5] and manifest["size"] == 64 and len(manifest["weights_sha256"]) == 64


def test_fresh_process_without_training_data_predicts_identically(trained_digits, bundle, tmp_path):
    learn = trained_digits
    files = learn.data.paths_of("valid")[:24]
    copies = tmp_path / "incoming"
    copies.mkdir()
    for i, f in enumerate(files):
        shutil.copy(f, copies / f"{i:03d}.png")
    here = load_learner(bundle).probs(sorted(copies.iterdir()))
    learn_probs, _ = learn.predict()
    # on a GPU both predict under bf16 autocast, and cuDNN may choose other kernels for other batch sizes
    diff = float((here - learn_probs[:24]).abs().max())
    assert diff <= (1e-5 if learn.device.type == "cpu" else 2e-3), f"probabilities differ by up to {diff}"

    root = learn.data.path
    hidden = root.with_name(root.name + "-hidden")
    root.rename(hidden)  # no training data anywhere near the fresh process
    try:
        script = (
            "import sys, numpy as np; from pathlib import Path; from fastlearn import load_learner; "
            "p = load_learner(sys.argv[1]); files = sorted(Path(sys.argv[2]).iterdir()); "
            "np.save(sys.argv[3], p.probs(files).numpy())")
        env = dict(os.environ, FASTLEARN_CACHE=str(tmp_path / "empty-cache"))
        subprocess.run([sys.executable, "-c", script, str(bundle), str(copies), str(tmp_path / "out.npy")],
                       check=True, cwd=tmp_path, env=env, timeout=300)
    finally:
        hidden.rename(root)
    there = np.load(tmp_path / "out.npy")
    if learn.device.type == "cpu":  # both processes predict on this machine's default device
        np.testing.assert_array_equal(there, here.numpy())
    else:  # cuDNN may pick other kernels in another process: equal up to float rounding
        np.testing.assert_allclose(there, here.numpy(), atol=1e-6)


def test_predictor_takes_paths_pil_bytes_and_arrays_and_folders(trained_digits, bundle, tmp_path):
    pred = load_learner(bundle)
    path = trained_digits.data.paths_of("valid")[0]
    truth = trained_digits.data.labels_of("valid")[0][0]
    by_path = pred.predict(path, k=3)
    assert by_path.label == truth and len(by_path.top) == 3 and by_path.top[0] == (by_path.label, by_path.probability)
    im = Image.open(path)
    for item in (im, path.read_bytes(), np.asarray(im)):
        assert pred.predict(item).probability == pytest.approx(by_path.probability, abs=1e-6)
    folder = tmp_path / "f"
    folder.mkdir()
    for p in trained_digits.data.paths_of("valid")[:70]:
        shutil.copy(p, folder / p.name)
    (folder / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        df = pred.predict_folder(folder, csv=tmp_path / "preds.csv", bs=32)
    assert len(df) == 70 and list(df.columns[:3]) == ["file", "label", "probability"]
    assert (tmp_path / "preds.csv").is_file()
    # batches evaluate with BatchNorm folded into the convolutions, one image as it is: the same
    # probabilities up to float rounding
    row = df[df["file"] == path.name].iloc[0]
    assert row["label"] == by_path.label and row["probability"] == pytest.approx(by_path.probability, abs=1e-5)
    many = pred.probs([path] * 40, bs=32)
    assert float((many - many[0]).abs().max()) <= 1e-6
    assert float(many[0].max()) == pytest.approx(by_path.probability, abs=1e-5)


def test_tampered_or_incomplete_bundles_are_refused(bundle, tmp_path):
    bad = tmp_path / "tampered"
    shutil.copytree(bundle, bad)
    raw = bytearray((bad / "model.safetensors").read_bytes())
    raw[-100] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="sha256"):
        load_learner(bad)
    partial = tmp_path / "partial"
    shutil.copytree(bundle, partial)
    manifest = json.loads((partial / "manifest.json").read_text())
    del manifest["mean"]
    _write_manifest(partial, manifest)
    with pytest.raises(BundleError, match="missing the field.*mean"):
        load_learner(partial)
    with pytest.raises(BundleError, match="not a fastlearn bundle"):
        load_learner(tmp_path)


def test_onnx_matches_pytorch_probabilities(trained_digits, tmp_path):
    import onnxruntime as ort
    learn = trained_digits
    path = learn.to_onnx(tmp_path / "digits.onnx")
    x, _ = next(iter(learn.data.valid_dl))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_probs = session.run(None, {"images": x.cpu().numpy()})[0]
    learn.model.eval()
    with torch.no_grad():
        torch_probs = torch.softmax(learn.model(x) / learn.temperature, dim=1).cpu().numpy()
    assert onnx_probs.shape == (64, 10)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4 if x.device.type == "cpu" else 1e-2)  # GPU: TF32


def test_predictor_tta_uses_the_recorded_augmentation(trained_digits, bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert [t["type"] for t in manifest["augment"]] == ["Rotate", "Zoom", "Lighting"]
    pred = load_learner(bundle)
    files = trained_digits.data.paths_of("valid")[:32]
    plain, tta = pred.probs(files), pred.probs(files, tta=4)
    assert not torch.allclose(plain, tta) and torch.allclose(tta.sum(1), torch.ones(32), atol=1e-5)
    assert (plain.argmax(1) == tta.argmax(1)).float().mean() > 0.9
    assert torch.equal(pred.probs(files, tta=4), tta)  # seeded: the same views every call


def _write_manifest(folder, manifest, digest: bool = True):
    """Edit a bundle's manifest; with `digest`, as someone who also rewrites SHA256SUMS would."""
    import hashlib
    text = json.dumps(manifest, indent=2)
    (folder / "manifest.json").write_text(text)
    if digest:
        sums = (folder / "SHA256SUMS").read_text().splitlines()
        sums[0] = f"{hashlib.sha256(text.encode()).hexdigest()}  manifest.json"
        (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")


@pytest.mark.parametrize("field, value", [
    ("temperature", -1.0), ("classes", [str(d) for d in reversed(range(10))]), ("std", [0.0, 0.5, 0.5]),
    ("multi_label", True), ("arch", "resnet18"), ("size", 256),
])
def test_any_edit_to_the_manifest_is_refused(bundle, tmp_path, field, value):
    edited = tmp_path / "edited"
    shutil.copytree(bundle, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest[field] = value
    _write_manifest(edited, manifest, digest=False)
    with pytest.raises(BundleError, match="does not match its digest"):
        load_learner(edited)


@pytest.mark.parametrize("field, value, says", [
    ("temperature", -1.0, "temperature must be a positive number"),
    ("temperature", "1", "temperature must be a positive number"),
    ("std", [0.0, 0.5, 0.5], "std must be positive"),
    ("classes", ["0", "0", "1", "2", "3", "4", "5", "6", "7", "8"], "classes must be distinct"),
    ("classes", [str(d) for d in range(9)], "another model than its weights"),
    ("classes", [1, 2], "classes must be a list of class names"),
    ("size", 4, "size must be a whole number from 8"),
    ("threshold", 1.5, "threshold must be a number in"),
    ("weights_file", "../model.safetensors", "weights_file must be a plain file name"),
    ("weights_file", "/etc/passwd", "weights_file must be a plain file name"),
    ("hidden", 100000, "hidden must be a whole number"),
    ("hidden", 4096, "another model than its weights"),
    ("arch", "tf_efficientnet_b7", "cannot be built here"),
    ("arch", "tf_efficientnet_lite1", "another model than its weights"),
])
def test_a_manifest_with_matching_digests_is_still_validated_before_building(bundle, tmp_path, field, value, says):
    edited = tmp_path / "edited"
    shutil.copytree(bundle, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest[field] = value
    _write_manifest(edited, manifest)
    with pytest.raises(BundleError, match=says):
        load_learner(edited)


def test_an_absurd_model_is_refused_before_any_memory_is_taken(bundle, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(bundle, edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    manifest["hidden"] = 60000  # a 300 MB head, were it built
    _write_manifest(edited, manifest)
    code = ("import resource, sys\nfrom fastlearn import load_learner\ntry:\n    load_learner(sys.argv[1])\n"
            "except Exception as e:\n    print(type(e).__name__)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    peak = {}
    for name, folder in (("good", bundle), ("absurd", edited)):
        r = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=300)
        peak[name] = int(r.stdout.split()[-1])
        assert ("BundleError" in r.stdout) == (name == "absurd"), r.stdout + r.stderr
    assert peak["absurd"] <= peak["good"] + 50, peak  # MB
