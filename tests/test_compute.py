"""The GPU fast paths (channels_last, bf16 autocast, torch.compile), exercised on CPU: they
train like float32, keep runs deterministic and resumable, and never leak into checkpoints."""

import copy
import dataclasses

import pandas as pd
import pytest
import torch

from lrtraj import checkpoint
from lrtraj.compute import Compute
from lrtraj.config import ConfigError, load
from lrtraj.models import build_model
from lrtraj.sidetrips import SideTrip, run_sidetrip
from tests.test_train import RUN, TINY, _preempted_at, burn_in

FAST = dataclasses.replace(
    RUN, compute=Compute(channels_last=True, autocast="bf16", cudnn_benchmark=True)
)
COMPILED = dataclasses.replace(RUN, compute=Compute(compile=True))


def train_losses(df: pd.DataFrame) -> pd.Series:
    return df[df.split == "train_batch"].set_index("step")["value"]


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("branch")
    burn_in(tmp, steps=60, every=60)
    return tmp / "final.pt"


def trip(steps=40, **over):
    return SideTrip(
        branch_step=60,
        data_seed=1,
        method="constant",
        steps=steps,
        lr=0.1,
        eval_every=10,
        averaging={"ema": {"beta": 0.9}},
        **over,
    )


def test_bf16_channels_last_trains_like_float32_and_resumes_bit_identically(
    branch, tmp_path, monkeypatch
):
    kwargs = dict(branch_checkpoint=branch, batch_size=16)
    fp32 = run_sidetrip(trip(), RUN, **kwargs)
    fast = run_sidetrip(trip(), FAST, **kwargs, weights_path=tmp_path / "w.pt")
    # the same trajectory up to bf16 rounding: the first steps agree to 1 %, and where SGD's
    # chaos has separated the runs, their losses still agree on average
    a, b = train_losses(fp32), train_losses(fast)
    assert not a.equals(b)  # the fast path really computed differently
    assert ((a - b).abs() / a).iloc[:5].max() < 0.01
    assert abs(a.iloc[-20:].mean() - b.iloc[-20:].mean()) / a.iloc[-20:].mean() < 0.05
    test_loss = fast[(fast.split == "test") & (fast.metric == "loss")]["value"]
    assert test_loss.notna().all()

    # a checkpoint of a channels_last run loads into a plainly built model
    plain = build_model("resnet8", 1, 10, TINY["model"]["widths"])
    plain.load_state_dict(checkpoint.load(tmp_path / "w.pt")["model"])

    # still deterministic: a run stopped at step 73 and resumed equals the one that never stopped
    resume = tmp_path / "resume.pt"
    _preempted_at(
        73,
        monkeypatch,
        lambda: run_sidetrip(trip(), FAST, **kwargs, resume_path=resume, checkpoint_every=100),
    )
    resumed = run_sidetrip(trip(), FAST, **kwargs, resume_path=resume)
    pd.testing.assert_frame_equal(fast, resumed)


def _torch_compile_is_sound() -> bool:
    """Whether torch.compile's own CPU backward agrees with eager on torchvision's stride-2
    BasicBlock (no lrtraj code), so a torch bug is reported as one: with 4-channel convolutions
    (below lrtraj.models.MIN_WIDTH) the two disagreed by ~1.4 on AMD EPYC with torch 2.14.1."""
    from torchvision.models.resnet import BasicBlock

    torch.manual_seed(0)
    down = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, 2, bias=False), torch.nn.BatchNorm2d(16))
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        BasicBlock(8, 16, 2, down),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 10),
    )
    twin = copy.deepcopy(net)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    for forward in (net, torch.compile(twin)):
        torch.nn.functional.cross_entropy(forward(x), y).backward()
    return all(
        torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-5)
        for a, b in zip(net.parameters(), twin.parameters(), strict=True)
    )


def test_compiled_forward_matches_eager_and_checkpoints_stay_plain(branch, tmp_path):
    if not _torch_compile_is_sound():
        pytest.skip("torch.compile gives wrong CPU gradients on this machine (a torch bug)")
    kwargs = dict(branch_checkpoint=branch, batch_size=16)
    eager = run_sidetrip(trip(steps=10), RUN, **kwargs, weights_path=tmp_path / "eager.pt")
    compiled = run_sidetrip(
        trip(steps=10),
        COMPILED,
        **kwargs,
        weights_path=tmp_path / "compiled.pt",
    )
    pd.testing.assert_series_equal(train_losses(eager), train_losses(compiled), rtol=1e-4)
    a = checkpoint.load(tmp_path / "eager.pt")["model"]
    b = checkpoint.load(tmp_path / "compiled.pt")["model"]
    assert a.keys() == b.keys()  # no "_orig_mod." prefixes from the compiled wrapper
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_unknown_autocast_is_rejected_with_its_key(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("compute: {autocast: fp8}\n")
    with pytest.raises(ConfigError, match="compute.autocast"):
        load(overlay)
    with pytest.raises(ValueError, match="compute.autocast"):
        Compute(autocast="fp16")
    with pytest.raises(ValueError, match="unknown keys"):
        Compute.from_config({"channel_last": True})  # a typo is not silently ignored
