"""Averagers compute the weighted sums their kernels say, and agree with torch's AveragedModel."""

import numpy as np
import pytest
import torch

from lrtraj import averaging
from lrtraj import config as lrconfig
from lrtraj.averaging import online
from lrtraj.schedules import ema_kernel, swa_kernel, two_point_kernel


def trajectory(T, dim=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(T + 1, dim, generator=gen, dtype=torch.float64)


def kernel_sum(kernel, ws):
    return (torch.from_numpy(kernel)[:, None] * ws).sum(0)


def feed(avg, ws):
    for t in range(1, len(ws)):
        avg.observe(t, [ws[t]])


def test_ema_is_the_ema_kernel_sum():
    ws = trajectory(50)
    ema = online.EMA(0.9, [ws[0]])
    feed(ema, ws)
    torch.testing.assert_close(ema.average(50)[0], kernel_sum(ema_kernel(50, 0.9), ws))


def test_snapshot_averages_match_their_kernels_at_every_ready_step():
    ws = trajectory(60)
    tp = averaging.make_averager("two_point", {"k": 20}, 10, [ws[0]])
    sw = averaging.make_averager("swa", {"n": 3, "c": 10}, 10, [ws[0]])
    for t in range(1, 61):
        tp.observe(t, [ws[t]])
        sw.observe(t, [ws[t]])
        if t % 10 == 0 and t >= 20:
            torch.testing.assert_close(
                tp.average(t)[0], kernel_sum(two_point_kernel(t, 20), ws[: t + 1])
            )
            torch.testing.assert_close(
                sw.average(t)[0], kernel_sum(swa_kernel(t, 3, 10), ws[: t + 1])
            )
    assert not averaging.make_averager("two_point", {"k": 20}, 10, [ws[0]]).ready(10)
    # memory stays bounded by the window, not the run length
    assert len(tp.snapshots) <= 20 // 10 + 1


def test_offsets_must_be_multiples_of_the_evaluation_period():
    with pytest.raises(ValueError, match="not multiples"):
        averaging.make_averager("two_point", {"k": 25}, 10, [torch.zeros(2)])


def test_ema_agrees_with_torch_averaged_model():
    model = torch.nn.Linear(4, 3)
    ref = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.8)
    )
    ref.update_parameters(model)  # AveragedModel's first update copies: v_0 = w_0, like ours
    ema = online.EMA(0.8, online.averaged_tensors(model))
    gen = torch.Generator().manual_seed(0)
    for t in range(1, 20):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen))
        ref.update_parameters(model)
        ema.observe(t, online.averaged_tensors(model))
    for mine, theirs in zip(ema.average(19), ref.module.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs.detach(), rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_identically():
    ws = trajectory(40)
    a = averaging.make_averager("swa", {"n": 3, "c": 10}, 10, [ws[0]])
    b = averaging.make_averager("swa", {"n": 3, "c": 10}, 10, [ws[0]])
    for t in range(1, 21):
        a.observe(t, [ws[t]])
        b.observe(t, [ws[t]])
    c = averaging.make_averager("swa", {"n": 3, "c": 10}, 10, [ws[0]])
    c.load_state_dict(b.state_dict())
    for t in range(21, 41):
        a.observe(t, [ws[t]])
        c.observe(t, [ws[t]])
    assert np.allclose(a.average(40)[0], c.average(40)[0])


DEFAULT = lrconfig.load()["sidetrips"]


@pytest.mark.parametrize("name", sorted(DEFAULT["averaging"]))
def test_every_configured_family_averages_its_kernel_and_matches_its_schedule(name):
    """Lemma 2 for each family of the default config, through the registry alone: its online
    averager computes its kernel's weighted sum at every ready evaluation step, and with
    update directions that do not depend on w (momentum SGD) the average at T equals the
    endpoint of the run with its equivalent schedule."""
    family, params = averaging.get(name), DEFAULT["averaging"][name]
    T, every, lr = DEFAULT["steps"], DEFAULT["eval_every"], 0.1
    gen = torch.Generator().manual_seed(1)
    grads = torch.randn(T, 3, generator=gen, dtype=torch.float64)

    def run(lrs, observe=None):
        w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        opt = torch.optim.SGD([w], lr=lr, momentum=0.9)
        ws = [w.detach().clone()]
        for i, step_lr in enumerate(lrs):
            opt.param_groups[0]["lr"] = float(step_lr)
            w.grad = grads[i].clone()
            opt.step()
            ws.append(w.detach().clone())
            if observe is not None:
                observe(i + 1, [w.detach()])
        return torch.stack(ws)

    avg = family.averager(params, every, [torch.zeros(3, dtype=torch.float64)])
    ws = run([lr] * T, avg.observe)
    ready = [t for t in range(every, T + 1, every) if avg.ready(t)]
    assert T in ready
    for t in ready:
        torch.testing.assert_close(
            avg.average(t)[0], kernel_sum(family.kernel(t, params), ws[: t + 1])
        )
    scheduled = run(family.schedule(params, T, lr))[-1]
    torch.testing.assert_close(avg.average(T)[0], scheduled, rtol=0, atol=1e-10)
