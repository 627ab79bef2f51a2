"""tvc train continuous (train/continuous.py): runs, logs, resumes, refuses a different run,
exports a weights file whose continuous CCM blob runs in the native coder, and turns bad
arguments into TrainArgumentError naming the option."""

import csv
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from tokenizer_helpers import TINY, make_tiny_cache
from tvc_ffmpeg import _native
from tvc_ffmpeg.data.cache import CacheLayout
from tvc_ffmpeg.data.dataset import CropConfig
from tvc_ffmpeg.errors import RunMismatchError, TrainArgumentError
from tvc_ffmpeg.models.bundle import ModelBundle, half_state, read_bundle, write_bundle
from tvc_ffmpeg.models.continuous import ContinuousConfig, quantize, step_code, step_of_code, token_context
from tvc_ffmpeg.models.tokenizer import CausalVideoTokenizer
from tvc_ffmpeg.train.continuous import (
    ContinuousTrainConfig, load_base, rate_weight, sample_step, train_continuous)

MODEL = ContinuousConfig(channels=2, temporal_factor=2, encoder_width=4, branch_width=4)
CFG = ContinuousTrainConfig(steps=3, batch_size=1, warmup_steps=1, val_every=2, log_every=1, threads=1,
                            rate_warmup=2, ccm_hidden=8, val_steps=(1.0, 4.0), crop=CropConfig(frames=9, size=32))
TINY_ARGS = ["--gop-frames", "9", "--crop-size", "32", "--channels", "2", "--width", "4", "--threads", "1",
             "--no-progress"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    make_tiny_cache(root)
    return CacheLayout(root)


@pytest.fixture(scope="module")
def base_file(tmp_path_factory):
    """A shipped-format weights file with a tiny random tokenizer (no CCM: not needed to train)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("base") / "base.pt"
    write_bundle(ModelBundle("tvc-tiny", TINY, half_state(CausalVideoTokenizer(TINY))), path)
    return path


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_training_writes_run_files_resumes_and_refuses_another_run(cache, base_file, tmp_path):
    run = tmp_path / "run"
    base = load_base(base_file)
    best = train_continuous(run, base, MODEL, CFG, cache, progress=False)
    assert best == run / "best.pt" and best.exists() and (run / "checkpoint.pt").exists()
    stored = json.loads((run / "config.json").read_text())
    assert stored["base"] == {"model_id": "tvc-tiny", "sha256": base.sha256}
    assert stored["ccm"]["context_planes"] == len(TINY.fsq_levels) + 1 and stored["continuous"]["channels"] == 2
    train_rows = _rows(run / "train.csv")
    assert [int(r["step"]) for r in train_rows] == [1, 2, 3]
    assert all(math.isfinite(float(r[k])) for r in train_rows for k in ("loss", "mse", "bpp"))
    assert [float(r["rate_weight"]) for r in train_rows] == [0.0, 0.5, 1.0]
    assert all(0.5 <= float(r["q_step"]) <= 4.0 for r in train_rows)
    val_rows = _rows(run / "val.csv")
    # Validation at steps 2 and 3 (the last), each clip at each fixed quantisation step.
    assert [(int(r["step"]), r["clip"], float(r["q_step"])) for r in val_rows] == [
        (s, c, q) for s in (2, 3) for c in ("bikes", "carphone_pristine") for q in (1.0, 4.0)]
    assert all(float(r["psnr_y"]) > 0 and float(r["token_psnr_y"]) > 0 and float(r["bpp"]) >= 0
               and 0 < float(r["token_raw_bpp"]) < 1 for r in val_rows)

    # The same call with a larger budget continues from step 3.
    train_continuous(run, base, MODEL, replace(CFG, steps=4), cache, progress=False)
    assert [int(r["step"]) for r in _rows(run / "train.csv")] == [1, 2, 3, 4]
    with pytest.raises(RunMismatchError, match="train config differs"):
        train_continuous(run, base, MODEL, replace(CFG, steps=5, lam=2.0), cache, progress=False)
    with pytest.raises(RunMismatchError, match="continuous config differs"):
        train_continuous(run, base, replace(MODEL, channels=3), replace(CFG, steps=5), cache, progress=False)
    # Another base tokenizer is another run, even under the same model id.
    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    write_bundle(ModelBundle("tvc-tiny", TINY, half_state(CausalVideoTokenizer(TINY))), other)
    with pytest.raises(RunMismatchError, match="base config differs"):
        train_continuous(run, load_base(other), MODEL, replace(CFG, steps=5), cache, progress=False)


def test_steps_are_log_uniform_in_header_units_and_reproducible():
    cfg = ContinuousTrainConfig(step_min=0.5, step_max=4.0)
    draws = [sample_step(7, s, cfg) for s in range(400)]
    assert draws == [sample_step(7, s, cfg) for s in range(400)]
    assert all(0.5 <= q <= 4.0 and q == step_of_code(code) and code == step_code(q) for code, q in draws)
    # Log-uniform: about half the draws lie below the geometric mean sqrt(0.5 * 4) = 1.414.
    below = sum(q < math.sqrt(2.0) for _, q in draws)
    assert 160 < below < 240


def test_rate_weight_ramps_in_linearly():
    cfg = ContinuousTrainConfig(rate_warmup=4)
    assert [rate_weight(s, cfg) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert rate_weight(0, replace(cfg, rate_warmup=0)) == 1.0


def test_cli_exports_weights_the_codec_reads_and_the_native_coder_runs(cache, base_file, tmp_path):
    from tvc_ffmpeg.cli.train import main

    run, out, config = tmp_path / "run", tmp_path / "tvc-tiny-c.pt", tmp_path / "opts.json"
    config.write_text(json.dumps({"lambda": 0.25, "step-range": "1,2", "steps": 2, "val_every": 2}))
    assert main(["continuous", "--run-dir", str(run), "--init-weights", str(base_file), "--cache", str(cache.root),
                 "--config", str(config), "--bundle", str(out), "--model-id", "tvc-tiny-c", *TINY_ARGS]) == 0
    stored = json.loads((run / "config.json").read_text())["train"]
    assert (stored["lam"], stored["step_min"], stored["step_max"], stored["steps"]) == (0.25, 1.0, 2.0, 2)

    base, bundle = read_bundle(base_file), read_bundle(out)
    assert bundle.model_id == "tvc-tiny-c" and bundle.components == ("tokenizer", "continuous")
    # The frozen tokenizer is the base's, byte for byte.
    assert all(torch.equal(bundle.tokenizer_state[k], base.tokenizer_state[k]) for k in base.tokenizer_state)
    cont = bundle.continuous
    assert cont.ccm_config["kernels"] == [3, 3, 1] and cont.config["channels"] == 2
    encoder, branch, ccm = cont.modules(bundle.tokenizer_config, str(out))
    best = torch.load(run / "best.pt", weights_only=True)["model"]
    assert torch.equal(ccm.state_dict()["layers.0.conv.weight"], best["ccm"]["layers.0.conv.weight"].half().float())

    # The blob codes a latent with the token context and decodes it back exactly.
    q = len(TINY.fsq_levels) + 1
    coder = _native.ContinuousCheckerboardCoder(cont.ccm_blob, 2, q)
    assert (coder.channels, coder.context_planes) == (2, q)
    tok = bundle.tokenizer()
    x = torch.rand(1, 3, 9, 32, 48) * 2 - 1
    with torch.no_grad():
        indices, _ = tok.encode(x)
        latent = encoder(x, tok.decode(indices))
    code = step_code(1.0)
    values = quantize(latent, step_of_code(code), "round")[0].numpy()  # (C, T', h, w)
    ctx = token_context(indices, TINY.fsq_levels, values.shape[1], 2, code)[0].to(torch.int32).numpy()
    data = coder.encode(values, ctx)
    assert np.array_equal(coder.decode(data, ctx, *values.shape[1:]), values)

    # Rerunning the command at the same budget trains nothing and exports the same file again.
    first = out.read_bytes()
    assert main(["continuous", "--run-dir", str(run), "--init-weights", str(base_file), "--cache", str(cache.root),
                 "--config", str(config), "--bundle", str(out), "--model-id", "tvc-tiny-c", *TINY_ARGS]) == 0
    assert [int(r["step"]) for r in _rows(run / "val.csv")][-1] == 2
    assert read_bundle(out).sha256 == read_bundle(tmp_path / "tvc-tiny-c.pt").sha256 and out.read_bytes() == first


@pytest.mark.parametrize("extra, option", [
    (["--step-range", "4,1"], "--step-range"),
    (["--step-range", "1"], "--step-range"),
    (["--lambda", "-1"], "--lambda"),
    (["--steps", "0"], "--steps"),
    (["--gop-frames", "10"], "--gop-frames"),
    (["--channels", "0"], "--channels"),
    (["--rate-warmup", "-5"], "--rate-warmup"),
    (["--bundle", "x.pt"], "--model-id"),
    (["--bundle", "x.pt", "--model-id", "Not_Kebab"], "--model-id"),
    (["--minutes", "0"], "--minutes"),
])
def test_bad_arguments_name_the_option(extra, option, base_file, tmp_path, capsys):
    from tvc_ffmpeg.cli.train import main

    argv = ["continuous", "--run-dir", str(tmp_path / "run"), "--init-weights", str(base_file), *extra]
    if option == "--step-range" and extra[1] == "1":
        with pytest.raises(SystemExit):  # argparse's own type error for a malformed pair
            main(argv)
        assert "--step-range" in capsys.readouterr().err
        return
    with pytest.raises(TrainArgumentError, match=option):
        main(argv)
    assert not (tmp_path / "run").exists()


def test_bad_base_and_config_files_are_refused_by_name(base_file, tmp_path):
    from tvc_ffmpeg.cli.train import main

    run = ["continuous", "--run-dir", str(tmp_path / "run")]
    with pytest.raises(TrainArgumentError, match="--init-weights: weights file not found"):
        main([*run, "--init-weights", str(tmp_path / "missing.pt")])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainArgumentError, match="--init-weights: .*not a tvc weights file"):
        main([*run, "--init-weights", str(junk)])
    config = tmp_path / "opts.json"
    config.write_text(json.dumps({"lamda": 1.0}))
    with pytest.raises(TrainArgumentError, match="unknown option 'lamda'"):
        main([*run, "--init-weights", str(base_file), "--config", str(config)])
    config.write_text("[1, 2]")
    with pytest.raises(TrainArgumentError, match="JSON object"):
        main([*run, "--init-weights", str(base_file), "--config", str(config)])


def test_minutes_budget_stops_with_a_checkpoint_and_best(cache, base_file, tmp_path):
    # train/runfiles.SessionSchedule, shared with the tokenizer trainer: one step, then the
    # spent budget validates, saves and stops; the same call continues.
    run = tmp_path / "run"
    base = load_base(base_file)
    cfg = replace(CFG, steps=1000, val_every=500)
    train_continuous(run, base, MODEL, cfg, cache, progress=False, minutes=1e-4)
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 1
    assert (run / "best.pt").exists() and {int(r["step"]) for r in _rows(run / "val.csv")} == {1}
    train_continuous(run, base, MODEL, cfg, cache, progress=False, minutes=1e-4)
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2


def test_init_continuous_starts_a_new_run_from_another_models_stream(cache, base_file, tmp_path):
    from tvc_ffmpeg.models.bundle import ContinuousBundle
    from tvc_ffmpeg.train.continuous import TrainableContinuous, _ccm_config, load_continuous_init

    base = load_base(base_file)
    ccm_cfg = _ccm_config(CFG, MODEL, TINY.fsq_levels)
    torch.manual_seed(3)
    donor = TrainableContinuous(base.tokenizer(), MODEL, ccm_cfg, torch.device("cpu"))
    stored_ccm = json.loads(json.dumps(__import__("dataclasses").asdict(ccm_cfg)))
    init = ContinuousBundle(MODEL.to_dict(), stored_ccm, half_state(donor.encoder), half_state(donor.branch),
                            donor.ccm.export_int(), half_state(donor.ccm))
    # A new run starts from the donor's weights (as stored, float16) ...
    run = tmp_path / "run"
    train_continuous(run, base, MODEL, replace(CFG, steps=1, lr=1e-12), cache, progress=False, init=init)
    trained = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    for name, module in donor.trained().items():
        for key, value in module.named_parameters():  # (buffers such as act_max move during a step)
            assert torch.allclose(trained[name][key], value.detach().half().float(), atol=1e-6), (name, key)
    # ... and refuses a stream of another configuration by name.
    other = TrainableContinuous(base.tokenizer(), replace(MODEL, channels=3), ccm_cfg, torch.device("cpu"))
    with pytest.raises(TrainArgumentError, match="--init-continuous: its continuous configuration"):
        load_continuous_init(other, init)


def test_init_continuous_file_without_a_stream_is_refused(cache, base_file, tmp_path):
    from tvc_ffmpeg.cli.train import main

    args = ["continuous", "--run-dir", str(tmp_path / "run"), "--init-weights", str(base_file),
            "--cache", str(cache.root), *TINY_ARGS]
    with pytest.raises(TrainArgumentError, match="has no continuous stream"):
        main(args + ["--init-continuous", str(base_file)])
    with pytest.raises(TrainArgumentError, match="weights file not found"):
        main(args + ["--init-continuous", str(tmp_path / "missing.pt")])
