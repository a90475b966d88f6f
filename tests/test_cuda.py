"""finetune.fit on a CUDA GPU: bf16 autocast, fp16 with a gradient scaler, channels-last (marker ``cuda``).

Skipped without CUDA (CI has none); ``python benchmarks/gpu_check.py`` runs them on a GPU machine.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrcourse import data, finetune, models, schedules  # noqa: E402

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")]

#: How close a short CUDA float32 run (TF32 off) stays to the same run on the CPU: cuDNN's convolutions
#: sum in another order, so the losses agree to float32 rounding grown over the steps, not bit for bit.
CPU_TOLERANCE = 1e-3


def _split():
    return data.digits_source(copies=2)


def _run(device, amp, channels_last, head_lr=0.05, epochs=1, seed=0, freeze_body=False):
    """A short fine-tuning run with discriminative LRs under warmup + cosine; the LRs each step must have."""
    model = models.small_resnet(num_classes=5, seed=seed)
    if freeze_body:
        finetune.freeze(model)
        finetune.unfreeze(model, ["fc"])
    groups = finetune.discriminative_groups(model, head_lr=head_lr, factor=0.5)
    optimizer = torch.optim.SGD(groups, lr=head_lr, momentum=0.9)
    split = _split()
    steps = epochs * -(-len(split.y_train) // 64)
    per_group = [schedules.warmup_cosine(g["lr"], warmup_steps=3, total_steps=steps) for g in optimizer.param_groups]
    scheduler = schedules.to_torch(per_group, optimizer)
    history = finetune.fit(model, split, optimizer, epochs=epochs, scheduler=scheduler, batch_size=64,
                           device=device, amp=amp, channels_last=channels_last, seed=seed)
    return model, history, [[float(sched(step)) for sched in per_group] for step in range(steps)]


@pytest.mark.parametrize("amp, precision", [("bf16", "bf16 autocast"), ("fp16", "fp16 autocast + scaler")])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fit_trains_on_cuda_in_mixed_precision(amp, precision, channels_last):
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    model, history, lrs = _run("cuda", amp, channels_last, epochs=3)
    assert history.device.startswith("cuda") and history.precision == precision
    assert np.isfinite(history.train_loss).all() and history.epoch_loss[-1] < history.epoch_loss[0]
    assert np.allclose(history.lrs, lrs, rtol=1e-12, atol=0)  # every group's LR at every step is the schedule's
    if channels_last:
        assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_a_short_cuda_run_matches_the_cpu_in_float32(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # restored for the tests after this one
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    _, on_gpu, _ = _run("cuda", None, False)
    _, on_cpu, _ = _run("cpu", None, False)
    assert np.allclose(on_gpu.train_loss, on_cpu.train_loss, rtol=CPU_TOLERANCE, atol=CPU_TOLERANCE)
    assert on_gpu.lrs == on_cpu.lrs


def test_frozen_weights_stay_bit_identical_on_cuda():
    before = {k: v.clone() for k, v in models.small_resnet(num_classes=5, seed=0).state_dict().items()}
    model, history, _ = _run("cuda", "auto", True, freeze_body=True)
    after = {k: v.cpu() for k, v in model.state_dict().items()}
    for name, value in before.items():
        if name.startswith("fc.") or "running" in name or "num_batches" in name:
            continue
        assert torch.equal(after[name].contiguous(), value), name
    assert not torch.equal(after["fc.weight"], before["fc.weight"])
