#!/usr/bin/env bash
# Train the tokenizer, the context model or the continuous stream for a fixed number of
# minutes on a lent GPU.
#
#   tools/gpu_train.sh PACK MINUTES DEVICE [tokenizer|ccm|continuous] [extra 'tvc train' options...]
#
# 'continuous' needs --init-weights FILE among the options (a shipped weights file in the tree,
# e.g. python/tvc_ffmpeg/models/weights/tvc-s-v3.pt: it travels with the working tree).
# PACK is a file from tools/pack_training_data.py; MINUTES bounds the whole script (install
# and unpacking included); DEVICE is cuda, cpu or auto (cpu for a dry run). Results go to
# $OUT/run (checkpoint.pt, best.pt, train.csv, val.csv, config.json) and $OUT/gpu_train.log;
# without $OUT, to out/gpu-train. Because the device returns files of at most 16 MiB, the run
# also goes into $OUT/run.tar.0, .1, ... (checkpoints slimmed: train/travel.py); restore with
# 'cat run.tar.* | tar -xf - -C runs/' and continue with the same command, or on the CPU.
# To continue on the device, put the restored run at $RUN_DIR (default $OUT/run) and carry it.
# docs/models.md, "Training on a lent GPU", has the device command line.
set -euo pipefail

die() { echo "gpu_train.sh: $*" >&2; exit 2; }

[ $# -ge 3 ] || die "usage: tools/gpu_train.sh PACK MINUTES DEVICE [tokenizer|ccm|continuous] [tvc train options...]"
pack=$1 minutes=$2 device=$3
shift 3
what=tokenizer
if [ $# -gt 0 ] && [[ $1 != -* ]]; then what=$1; shift; fi
case $what in tokenizer|ccm|continuous) ;; *) die "what to train must be tokenizer, ccm or continuous, got '$what'" ;; esac
case $device in cpu|cuda|auto) ;; *) die "DEVICE must be cpu, cuda or auto, got '$device'" ;; esac
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || die "MINUTES must be a positive number, got '$minutes'"
[ -f "$pack" ] || die "pack file not found: $pack (make one with tools/pack_training_data.py)"

cd "$(dirname "$0")/.."
out=${OUT:-out/gpu-train}
mkdir -p "$out"
log=$out/gpu_train.log
exec > >(tee -a "$log") 2>&1
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

# 1. The Python packages training needs; never installed from here (the machine is offline,
#    and an unpinned torch would replace the machine's CUDA build).
missing=$($py - <<'PY'
import importlib
need = ["torch", "numpy", "tqdm"]
gone = [m for m in need if importlib.util.find_spec(m) is None]
if importlib.util.find_spec("av") is None and importlib.util.find_spec("cv2") is None:
    gone.append("av or cv2 (to decode the pack's clips)")
print(" ".join(gone))
PY
) || die "$py does not run"
[ -z "$missing" ] || die "missing Python packages: $missing (carry them as wheels: see the device README)"
if [ "$device" = cuda ]; then
    $py -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
        || die "--device cuda: torch $($py -c 'import torch; print(torch.__version__)') sees no GPU"
fi

# 2. The package from this tree, with its C++ extension built for this Python if needed.
if ! $py -c "import tvc_ffmpeg._native" 2>/dev/null; then
    echo "building tvc_ffmpeg for $($py -V) ..."
    # Only the extension training needs: no CUDA/TensorRT parts, no C API library (faster, fewer ways to fail).
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) $py -m pip install -q --no-build-isolation --no-deps -e . \
        -C cmake.define.TVC_WITH_CUDA=OFF -C cmake.define.TVC_WITH_TENSORRT=OFF -C cmake.define.TVC_BUILD_CAPI=OFF \
        || die "building the package failed (needs scikit-build-core, pybind11, cmake, a C++ compiler)"
    $py -c "import tvc_ffmpeg._native" || die "tvc_ffmpeg._native does not import after the build"
fi
$py -c "import tvc_ffmpeg, os, sys; sys.exit(0 if os.path.realpath(tvc_ffmpeg.__file__).startswith(os.path.realpath('python')) else 1)" \
    || die "an installed tvc_ffmpeg outside this tree shadows it; uninstall it first"

# 3. Unpack once (decoding in parallel), then train for what is left of the budget.
$py -c "import sys, logging; logging.basicConfig(level=logging.INFO)
from tvc_ffmpeg.train.pack import unpack_training_data
print('unpacked into', unpack_training_data(sys.argv[1]).root)" "$pack"
left=$($py -c "print(round(float('$minutes') - $SECONDS / 60.0, 2))")
$py -c "import sys; sys.exit(0 if float('$left') > 0.5 else 1)" \
    || die "only $left min left of $minutes after install and unpacking: nothing trained"
echo "training $what on $device for $left min (after ${SECONDS}s of setup)"
amp=()
if [ "$device" != cpu ]; then amp=(--amp bf16); fi
run=${RUN_DIR:-$out/run}
common=(--run-dir "$run" --pack "$pack" --device "$device" "${amp[@]}" --minutes "$left")
tvc=($py -c "import sys; from tvc_ffmpeg.cli import main; sys.exit(main(sys.argv[1:]))")
if [ "$what" = tokenizer ] || [ "$what" = continuous ]; then
    "${tvc[@]}" train "$what" "${common[@]}" --no-progress "$@"
else
    "${tvc[@]}" train ccm "${common[@]}" "$@"
fi
# 4. What comes back: the run in parts under the device's per-file limit, plus the logs.
if [ -n "${OUT:-}" ]; then
    $py -c "import sys; from pathlib import Path
from tvc_ffmpeg.train.travel import pack_run_for_return
for p in pack_run_for_return(Path(sys.argv[1]), Path(sys.argv[2])): print(p, p.stat().st_size)" "$run" "$out"
    cp "$run/train.csv" "$out/train.csv" 2>/dev/null || true
    [ -f "$run/val.csv" ] && cp "$run/val.csv" "$out/val.csv"
    if [ "$run" = "$out/run" ]; then rm -rf "$run"; fi  # only the parts travel back
fi
ls -la "$out"
