"""Training loop: writes its files, resumes where it stopped, refuses a different run."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from tokenizer_helpers import TINY, make_tiny_cache
from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.data.dataset import CropConfig
from tvc_ffmpeg.train.loop import RunMismatchError, TrainConfig, train_tokenizer
from tvc_ffmpeg.train.threads import ThreadTuner

CFG = TrainConfig(steps=4, batch_size=2, warmup_steps=2, val_every=2, log_every=1, threads=1,
                  crop=CropConfig(frames=9, size=32))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    make_tiny_cache(root)
    return CacheLayout(root)


def _steps(path):
    with open(path) as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_train_writes_run_files_and_resumes(cache, tmp_path):
    run = tmp_path / "run"
    best = train_tokenizer(run, TINY, CFG, cache, progress=False)
    assert best.exists() and (run / "checkpoint.pt").exists()
    stored = json.loads((run / "config.json").read_text())
    assert tuple(stored["model"]["fsq_levels"]) == TINY.fsq_levels
    assert _steps(run / "train.csv") == [1, 2, 3, 4]
    assert sorted(set(_steps(run / "val.csv"))) == [2, 4]
    with open(run / "val.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["clip"] for r in rows} == {"bikes", "carphone_pristine"}
    assert all(float(r["psnr_y"]) > 0 and 0 < float(r["raw_bpp"]) < 1 for r in rows)

    # Same command with a larger step budget continues from step 4, not from scratch.
    train_tokenizer(run, TINY, replace(CFG, steps=6), cache, progress=False)
    assert _steps(run / "train.csv") == [1, 2, 3, 4, 5, 6]

    # Rows logged after the last checkpoint (a killed run) are dropped on resume, not duplicated.
    with open(run / "train.csv", "a") as f:
        f.write("7,0,0,1,0,0,0\n")
    train_tokenizer(run, TINY, replace(CFG, steps=7), cache, progress=False)
    assert _steps(run / "train.csv") == [1, 2, 3, 4, 5, 6, 7]

    # How a session runs (threads, cadence) is not what is learned: a resume may change it.
    train_tokenizer(run, TINY, replace(CFG, steps=7, threads=2, val_every=5, checkpoint_minutes=1.0),
                    cache, progress=False)
    with pytest.raises(RunMismatchError):
        train_tokenizer(run, replace(TINY, fsq_levels=(4, 4)), replace(CFG, steps=8), cache, progress=False)
    with pytest.raises(RunMismatchError):
        train_tokenizer(run, TINY, replace(CFG, steps=8, lr=1.0), cache, progress=False)


def test_eval_cli_prints_every_validation_clip(cache, tmp_path, capsys):
    from tvc_ffmpeg.cli.eval import EvalArgumentError, main

    run = tmp_path / "run"
    train_tokenizer(run, TINY, replace(CFG, steps=2), cache, progress=False)
    for weights in ("best.pt", "checkpoint.pt"):
        assert main(["tokenizer", "--weights", str(run / weights), "--gop", "9", "--cache", str(cache.root)]) == 0
        out = capsys.readouterr().out
        assert "bikes" in out and "carphone_pristine" in out and "raw bpp" in out
    with pytest.raises(EvalArgumentError):
        main(["tokenizer", "--weights", str(run / "best.pt"), "--gop", "10"])


def test_thread_tuner_switches_to_the_faster_setting():
    tuner = ThreadTuner(2, probe_every=20, probe_len=4)
    assert tuner.current == 2
    for _ in range(10):
        tuner.record(1.0)  # two threads: slow (a core is busy)
    assert tuner.probing
    for _ in range(4):
        tuner.record(0.5)  # one thread: faster
    assert tuner.current == 1 and not tuner.probing


def test_new_run_can_start_from_another_runs_weights(cache, tmp_path):
    import torch

    first = tmp_path / "first"
    train_tokenizer(first, TINY, replace(CFG, steps=2), cache, progress=False)
    second = tmp_path / "second"
    # Zero steps of training beyond initialisation would be a no-op; one step shows the start point.
    train_tokenizer(second, TINY, replace(CFG, steps=1, lr=1e-12), cache, progress=False,
                    init_weights=first / "checkpoint.pt")
    a = torch.load(first / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(second / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(RunMismatchError):
        train_tokenizer(tmp_path / "third", replace(TINY, fsq_levels=(4, 4)), CFG, cache, progress=False,
                        init_weights=first / "checkpoint.pt")


def test_thread_tuner_reacts_to_a_sudden_slowdown():
    tuner = ThreadTuner(2, probe_every=1000, probe_len=4)
    for _ in range(20):  # includes the early probe at step 10, which finds 1 thread no faster
        tuner.record(1.0)
    assert tuner.current == 2 and not tuner.probing
    for _ in range(3):
        tuner.record(9.0)  # another job took a core
    assert tuner.probing
    for _ in range(4):
        tuner.record(2.0)
    assert tuner.current == 1


@pytest.mark.parametrize("module", ["train", "eval"])
def test_cli_help_explains_units(module, capsys):
    import importlib

    main = importlib.import_module(f"tvc_ffmpeg.cli.{module}").main
    with pytest.raises(SystemExit) as exc:
        main(["tokenizer", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    assert ("bits per pixel" in out) if module == "eval" else ("1 + 8k" in out)


def test_train_cli_rejects_bad_arguments(tmp_path):
    from tvc_ffmpeg.cli.train import TrainArgumentError, main

    with pytest.raises(TrainArgumentError):
        main(["tokenizer", "--run-dir", str(tmp_path / "r"), "--crop-frames", "16"])
    with pytest.raises(TrainArgumentError):
        main(["tokenizer", "--run-dir", str(tmp_path / "r"), "--steps", "0"])
    with pytest.raises(TrainArgumentError, match=r"--video-fraction must be in \[0, 1\]"):
        main(["tokenizer", "--run-dir", str(tmp_path / "r"), "--video-fraction", "-0.1"])


def test_train_ccm_cli_rejects_bad_arguments(tmp_path):
    from tvc_ffmpeg.cli.train import TrainArgumentError, main

    with pytest.raises(TrainArgumentError, match="not found"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(tmp_path / "missing.pt")])
    junk = tmp_path / "junk.pt"
    torch.save({"something": 1}, junk)
    with pytest.raises(TrainArgumentError, match="junk.pt: not a tvc weights file .*no tokenizer weights"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk)])
    with pytest.raises(TrainArgumentError, match="positive"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk), "--steps", "0"])
    with pytest.raises(TrainArgumentError, match=r"--video-fraction must be in \[0, 1\]"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk), "--video-fraction", "1.5"])
    with pytest.raises(TrainArgumentError, match=r"--gop-frames must be 1 \+ 8k frames .*got 20"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk), "--gop-frames", "20"])
    with pytest.raises(TrainArgumentError, match="--model-id names the file --bundle writes"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk), "--model-id", "tvc-x"])
    with pytest.raises(TrainArgumentError, match="--model-id must be kebab-case"):
        main(["ccm", "--run-dir", str(tmp_path / "r"), "--tokenizer", str(junk), "--bundle", str(tmp_path / "o.pt"),
              "--model-id", "Bad_Id"])
    assert not (tmp_path / "r").exists()  # nothing written for a refused command


def test_train_predictor_cli_needs_a_token_pool(tmp_path):
    from tvc_ffmpeg.cli.train import TrainArgumentError, main

    junk = tmp_path / "junk.pt"
    torch.save({"something": 1}, junk)
    with pytest.raises(TrainArgumentError, match="tokens.npz"):
        main(["predictor", "--run-dir", str(tmp_path), "--tokenizer", str(junk)])
    with pytest.raises(TrainArgumentError, match="positive"):
        main(["predictor", "--run-dir", str(tmp_path), "--tokenizer", str(junk), "--depth", "0"])


# --- devices, mixed precision, time budgets and packs (training on a lent GPU) ---------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda_is_one_clear_error(tmp_path):
    from tvc_ffmpeg.cli.train import TrainArgumentError, main

    for what in (["tokenizer"], ["predictor", "--tokenizer", str(tmp_path / "t.pt")]):
        args = what + ["--run-dir", str(tmp_path / "r"), "--device", "cuda"]
        if what[0] == "predictor":
            (tmp_path / "t.pt").write_bytes(b"x")
            (tmp_path / "r").mkdir(exist_ok=True)
            (tmp_path / "r" / "tokens.npz").write_bytes(b"x")
        with pytest.raises(TrainArgumentError, match="--device cuda: this torch has no usable CUDA device"):
            main(args)
    assert not (tmp_path / "r" / "config.json").exists()


def test_amp_on_cpu_warns_and_trains_in_float32():
    from tvc_ffmpeg.train.device import TrainDevice

    with pytest.warns(UserWarning, match="--amp bf16 ignored on cpu"):
        where = TrainDevice.resolve("cpu", "bf16")
    assert where.device.type == "cpu" and where.amp is None
    assert not where.grad_scaler().is_enabled()
    assert TrainDevice.resolve("auto").device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_checkpoints_hold_cpu_tensors_and_load_with_map_location(cache, tmp_path):
    from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer
    from tvc_ffmpeg.train.device import load_checkpoint, to_cpu

    run = tmp_path / "run"
    train_tokenizer(run, TINY, replace(CFG, steps=2), cache, progress=False)
    for name in ("checkpoint.pt", "best.pt"):
        state = load_checkpoint(run / name)
        tensors = [v for v in state["model"].values()]
        assert tensors and all(t.device.type == "cpu" for t in tensors)
    state = load_checkpoint(run / "checkpoint.pt")
    assert all(t.device.type == "cpu" for s in state["optimizer"]["state"].values() for t in s.values()
               if isinstance(t, torch.Tensor))
    model = CausalVideoTokenizer(TINY)
    model.load_state_dict(state["model"])
    again = to_cpu(model.state_dict())
    torch.save(again, tmp_path / "again.pt")
    back = load_checkpoint(tmp_path / "again.pt")
    assert all(torch.equal(back[k], state["model"][k]) for k in state["model"])


def test_minutes_budget_stops_with_a_checkpoint_and_best(cache, tmp_path):
    run = tmp_path / "run"
    train_tokenizer(run, TINY, replace(CFG, steps=1000, val_every=500), cache, progress=False, minutes=1e-4)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1  # one step, then the budget is spent
    assert (run / "best.pt").exists() and _steps(run / "val.csv") == [1, 1]
    # The same command continues from there.
    train_tokenizer(run, TINY, replace(CFG, steps=1000, val_every=500), cache, progress=False, minutes=1e-4)
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 2


def test_fit_steps_to_budget_keeps_a_reserve_and_the_cap():
    from tvc_ffmpeg.train.runfiles import fit_steps_to_budget

    assert fit_steps_to_budget(100, 0.1, 100.0, 10_000) == 100 + 850  # 15 % kept back
    assert fit_steps_to_budget(100, 0.1, 100.0, 500) == 500           # never above --steps
    assert fit_steps_to_budget(100, 10.0, 1.0, 500) == 101            # at least one more step


def test_fit_steps_lowers_the_schedule_to_the_budget(cache, tmp_path, monkeypatch):
    import tvc_ffmpeg.train.loop as loop

    monkeypatch.setattr(loop, "FIT_SKIP", 1)
    monkeypatch.setattr(loop, "FIT_PROBE", 3)
    run = tmp_path / "run"
    train_tokenizer(run, TINY, replace(CFG, steps=100_000, val_every=100_000), cache, progress=False,
                    minutes=0.2, fit_steps=True)
    fitted = json.loads((run / "config.json").read_text())["train"]["steps"]
    assert 4 < fitted < 100_000
    # The session ends at the fitted count (or, on a slow machine, just before it).
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] >= 0.5 * fitted


@pytest.fixture(scope="module")
def packed(cache, tmp_path_factory):
    from tokenizer_helpers import moving_pattern, write_lossless_video
    from tvc_ffmpeg.train.pack import pack_training_data

    # The tiny cache has no original file for bigbuckbunny; a pack is made of originals.
    if not cache.video("bigbuckbunny").exists():
        write_lossless_video(cache.video("bigbuckbunny"), moving_pattern(24, 64, 80, seed=2))
    out = tmp_path_factory.mktemp("pack") / "tiny.tvcpack"
    record = pack_training_data(cache, out, max_mib=1.0)
    return out, record


def test_pack_unpacks_to_a_cache_with_the_same_material(cache, packed):
    from tvc_ffmpeg.data.clips import VALIDATION_CLIPS
    from tvc_ffmpeg.train.pack import unpack_training_data
    from tvc_ffmpeg.train.validate import validation_yuv

    pack, record = packed
    assert sorted(record["videos"]) == ["bigbuckbunny", "bikes", "carphone_pristine"]
    unpacked = unpack_training_data(pack)
    assert unpacked.root == pack.with_name("tiny.tvcpack.cache")
    assert np.load(unpacked.frames_of("bigbuckbunny")).shape == (24, 64, 80, 3)
    assert np.load(unpacked.frames_of("bikes")).shape[0] == 64  # the original file's frames
    stills, original = np.load(unpacked.stills_npz), np.load(cache.stills_npz)
    assert sorted(stills.files) == sorted(original.files)
    assert all(np.array_equal(stills[k], original[k]) for k in original.files)
    for clip in VALIDATION_CLIPS:
        a, b = validation_yuv(clip, unpacked), validation_yuv(clip, cache)
        assert (unpacked.root / "validation").is_dir() and np.array_equal(a.y, b.y) and np.array_equal(a.v, b.v)
    assert unpack_training_data(pack).root == unpacked.root  # a second call reuses the unpacked cache


def test_train_cli_reads_a_pack(packed, tmp_path):
    from tvc_ffmpeg.cli.train import TrainArgumentError, main

    pack, _ = packed
    run = tmp_path / "run"
    args = ["tokenizer", "--run-dir", str(run), "--pack", str(pack), "--steps", "1", "--batch-size", "1",
            "--crop-frames", "9", "--crop-size", "32", "--val-every", "1", "--val-gop", "9", "--threads", "1",
            "--fsq-levels", "8,5,5,5", "--no-progress", "--minutes", "5"]
    assert main(args) == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 1
    assert {r["clip"] for r in csv.DictReader(open(run / "val.csv"))} == {"bikes", "carphone_pristine"}
    with pytest.raises(TrainArgumentError, match="--pack or --cache, not both"):
        main(args + ["--cache", str(tmp_path)])
    with pytest.raises(TrainArgumentError, match="--minutes must be positive"):
        main(args[:-2] + ["--minutes", "0"])


def test_train_cli_passes_fit_steps_to_the_tokenizer_loop(monkeypatch, tmp_path):
    import tvc_ffmpeg.cli.train as cli

    seen = {}
    monkeypatch.setattr(cli, "train_tokenizer", lambda *a, **kw: seen.update(kw) or tmp_path / "best.pt")
    monkeypatch.setattr(cli, "_resolve_cache", lambda args: None)
    base = ["tokenizer", "--run-dir", str(tmp_path / "run"), "--minutes", "5"]
    assert cli.main(base + ["--fit-steps"]) == 0 and seen["fit_steps"] is True
    assert cli.main(base) == 0 and seen["fit_steps"] is False


def test_bad_packs_are_refused_by_name(cache, tmp_path):
    from tvc_ffmpeg.errors import DataAssemblyError, InvalidDataError
    from tvc_ffmpeg.train.pack import pack_training_data, unpack_training_data

    junk = tmp_path / "junk.tvcpack"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InvalidDataError, match="junk.tvcpack: not a training pack"):
        unpack_training_data(junk)
    with pytest.raises(InvalidDataError, match="training pack not found"):
        unpack_training_data(tmp_path / "missing.tvcpack")
    with pytest.raises(DataAssemblyError, match="over the 0.001 MiB limit"):
        pack_training_data(cache, tmp_path / "big.tvcpack", max_mib=0.001)
    assert not (tmp_path / "big.tvcpack").exists() and not list(tmp_path.glob("*.tmp"))


def test_run_packed_for_return_restores_and_resumes(cache, tmp_path):
    import io
    import tarfile

    from tvc_ffmpeg.train.travel import pack_run_for_return

    run = tmp_path / "run"
    train_tokenizer(run, TINY, replace(CFG, steps=2), cache, progress=False)
    parts = pack_run_for_return(run, tmp_path / "out")
    assert [p.name for p in parts] == ["run.tar.0"]
    with tarfile.open(fileobj=io.BytesIO(b"".join(p.read_bytes() for p in parts))) as tar:
        tar.extractall(tmp_path / "back")
    back = tmp_path / "back" / "run"
    assert sorted(p.name for p in back.iterdir()) == sorted(p.name for p in run.iterdir())
    slim = torch.load(back / "checkpoint.pt", weights_only=True)
    moments = [t for s in slim["optimizer"]["state"].values() for k, t in s.items() if k != "step"]
    assert moments and all(t.dtype == torch.bfloat16 for t in moments)
    best = torch.load(back / "best.pt", weights_only=True)["model"]
    assert all(t.dtype == torch.float16 for t in best.values() if t.is_floating_point() and t.dim() > 0)
    # The ordinary resume reads the slimmed checkpoint: the returned run continues.
    train_tokenizer(back, TINY, replace(CFG, steps=3), cache, progress=False)
    assert torch.load(back / "checkpoint.pt", weights_only=True)["step"] == 3
