"""bench/mask_rd.py: the drop-map side information, the per-token ranking, the rate
estimate against the real coder, and the equal-rate comparison with the ladder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tvc_ffmpeg import _native
from tvc_ffmpeg.codec import CodecModel
from tvc_ffmpeg.models.fsq import digits_to_indices

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (8, 5, 5, 5)


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_mask_rd", ROOT / "bench" / "mask_rd.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def _token(*digits):
    return int(digits_to_indices(np.array(digits), LEVELS))


def test_binary_entropy_values():
    assert bench.binary_entropy(0.0) == 0.0
    assert bench.binary_entropy(1.0) == 0.0
    assert bench.binary_entropy(0.5) == 1.0
    assert bench.binary_entropy(0.25) == pytest.approx(0.8112781245, abs=1e-9)
    with pytest.raises(ValueError, match="probability"):
        bench.binary_entropy(1.5)


def test_drop_map_bits_counts_each_later_frame_at_its_own_share():
    keep = np.ones((3, 2, 4), bool)
    keep[1, 0, :2] = False  # 2 of 8 dropped: 8 x H(1/4)
    keep[2] = False  # all dropped: H(1) = 0, the map costs nothing
    assert bench.drop_map_bits(keep) == pytest.approx(8 * 0.8112781245, abs=1e-8)
    keep[0, 0, 0] = False
    with pytest.raises(ValueError, match="latent frame 0"):
        bench.drop_map_bits(keep)


def test_ranked_keep_drops_equal_tokens_then_the_nearest():
    a, b = _token(0, 0, 0, 0), _token(7, 4, 4, 4)
    grid = np.full((2, 1, 4), a)
    grid[1] = [a, _token(1, 0, 0, 0), _token(0, 2, 0, 0), b]  # distances 0, (2/7)^2, 1, 4 + 4 x 4
    equal = bench.ranked_keep(grid, LEVELS, None)
    assert equal[0].all()
    assert equal[1].tolist() == [[False, True, True, True]]
    half = bench.ranked_keep(grid, LEVELS, 0.5)
    assert half[1].tolist() == [[False, False, True, True]]
    assert bench.ranked_keep(grid, LEVELS, 0.0)[1].all()
    with pytest.raises(ValueError, match="drop fraction"):
        bench.ranked_keep(grid, LEVELS, 1.2)


def test_ranked_keep_measures_against_the_decoders_copy_not_the_true_previous_token():
    a, b, c = _token(0, 0, 0, 0), _token(7, 4, 4, 4), _token(1, 0, 0, 0)
    # Frame 1 drops c (the nearer), so the decoder shows a there. In frame 2, c equals the
    # true previous token but not the decoder's copy (a); b equals both: b goes, c stays.
    grid = np.array([[[a, a]], [[c, b]], [[c, b]]])
    keep = bench.ranked_keep(grid, LEVELS, 0.5)
    assert keep[1].tolist() == [[False, True]]
    assert keep[2].tolist() == [[True, False]]
    assert bench.ranked_keep(grid, LEVELS, None)[2].tolist() == [[False, False]]


@pytest.fixture(scope="module")
def model():
    return CodecModel.load("tvc-s-v4")


def _grid(seed=3):
    """Tokens with the temporal repeats of real video: some positions repeat the previous frame."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, int(np.prod(LEVELS)), size=(3, 6, 7))
    for f in (1, 2):
        same = rng.random((6, 7)) < 0.4
        grid[f][same] = grid[f - 1][same]
    return grid


@pytest.mark.parametrize("pattern", [0, 1, 2, 3])
def test_kept_token_bits_matches_the_real_coder_on_fixed_patterns(model, pattern):
    grid = _grid()
    estimator = bench.KeptTokenBits(model.ccm_blob, model.fsq_levels)
    estimate = estimator.bits(grid, _native.mask_keep(pattern, *grid.shape))
    real = 8 * len(model.token_coder().encode(grid, pattern))
    # The ideal code length of the coder's own CDFs: below the real stream by about its
    # 32-bit flush, never by more than the flush plus a few bytes of renormalisation.
    assert real - 32 - 24 <= estimate <= real - 16


def test_kept_token_bits_contexts(model):
    grid = _grid()
    estimator = bench.KeptTokenBits(model.ccm_blob, model.fsq_levels)
    every = np.ones(grid.shape, bool)
    assert estimator.bits(grid, every, "filled") == estimator.bits(grid, every, "zeroed")
    keep = _native.mask_keep(2, *grid.shape)
    assert estimator.bits(grid, keep, "zeroed") < estimator.bits(grid, every)
    with pytest.raises(ValueError, match="context must be one of"):
        estimator.bits(grid, every, "nearest")
    with pytest.raises(ValueError, match="does not match"):
        estimator.bits(grid, every[:2])


def _row(arm, bpp, psnr, ssim, quality=0):
    return dict(clip="c", quality=quality, arm=arm, dropped=0.0, bytes=1.0, bpp=bpp, psnr_y=psnr, ms_ssim_y=ssim)


def test_compare_with_ladder_at_equal_rate_and_bd_rate():
    points = [_row("ladder", 0.001, 20.0, 0.70, 0), _row("ladder", 0.002, 21.0, 0.75, 1),
              _row("ladder", 0.004, 22.0, 0.80, 2),
              _row("per-token 25 %", 0.002, 21.5, 0.76, 1), _row("per-token 25 %", 0.0005, 19.0, 0.6, 0),
              _row("pattern 1", 0.003, 21.0, 0.7, 1)]
    rows = bench.compare_with_ladder(points)
    token = points[3]
    assert token["psnr_y_ladder"] == pytest.approx(21.0)
    assert token["d_psnr_y"] == pytest.approx(0.5)
    assert token["d_ms_ssim_y"] == pytest.approx(0.01)
    assert points[4]["d_psnr_y"] is None  # below the ladder's lowest rate
    assert [r["arm"] for r in rows] == ["per-token 25 %", "pattern 1"]
    assert rows[0]["bd_rate_psnr_y"] is not None and rows[0]["bd_rate_psnr_y"] < 0
    assert rows[1]["bd_rate_psnr_y"] is None  # one point is no curve
    table = bench.markdown_tables(points + rows)
    assert "| c | 1 | per-token 25 % | 0% | 0.0020 | 21.50 | 0.760 | +0.50 | +0.010 |" in table
    assert "| c | pattern 1 | n/a % | n/a % |" in table


def test_tabulate_merges_runs_and_a_later_row_wins():
    first = [_row("ladder", 0.001, 20.0, 0.70, 0), _row("ladder", 0.004, 22.0, 0.80, 2),
             _row("per-token 50 %", 0.002, 20.0, 0.70, 1)]
    again = [_row("per-token 50 %", 0.002, 21.5, 0.76, 1), dict(clip="c", arm="x", bd_rate_psnr_y=9.0),
             dict(clip="c", quality=0, check="ccm estimate", pattern=2, real_bits=80, estimated_bits=81.0,
                  error=0.0125)]
    rows = bench.tabulate(first + again)
    points = [r for r in rows if "bpp" in r]
    assert [(p["quality"], p["arm"]) for p in points] == [(0, "ladder"), (1, "per-token 50 %"), (2, "ladder")]
    assert points[1]["psnr_y"] == 21.5 and points[1]["d_psnr_y"] is not None
    assert [r["arm"] for r in rows if "bd_rate_psnr_y" in r] == ["per-token 50 %"]  # "x" is not re-read
    assert rows[-1]["check"] == "ccm estimate"


def test_table_mode_reads_runs(tmp_path, capsys):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(_row("ladder", 0.001, 20.0, 0.7)) + "\n")
    assert bench.main(["--table", str(path), str(path)]) == 0
    assert "| c | 0 | ladder | 0% | 0.0010 | 20.00 | 0.700 | n/a | n/a |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--help"])


def test_ladder_and_auto_only_arguments():
    args = bench.build_parser().parse_args(["--clips", "carphone", "--patterns", "--no-per-token"])
    assert args.patterns == [] and args.no_per_token and not args.no_auto
    assert not bench.build_parser().parse_args([]).no_per_token
