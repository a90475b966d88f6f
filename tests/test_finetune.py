"""lrcourse.finetune on the CPU: devices, heads, layer groups, freezing, and the training loop's records."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lrcourse import data, finetune, models, schedules


@pytest.fixture(scope="module")
def source():
    return data.digits_source()


def test_select_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert finetune.select_device().type == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert finetune.select_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert finetune.select_device().type == "cuda"
    assert finetune.select_device("cpu").type == "cpu"


def test_select_device_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="prefer='cuda', but this machine has no CUDA device"):
        finetune.select_device("cuda")
    with pytest.raises(ValueError, match="prefer must be 'cpu', 'cuda', 'mps' or None"):
        finetune.select_device("tpu")


def test_replace_head_is_fresh_seeded_and_keeps_the_body():
    model = models.small_resnet(num_classes=5, seed=0)
    body = model.layer3[0].conv2.weight.clone()
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    finetune.replace_head(model, 3, seed=2)
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random stream is untouched
    assert model.fc.out_features == 3 and torch.equal(model.layer3[0].conv2.weight, body)
    other = finetune.replace_head(models.small_resnet(num_classes=5, seed=9), 3, seed=2)
    assert torch.equal(model.fc.weight, other.fc.weight)
    with pytest.raises(ValueError, match="linear head named fc"):
        finetune.replace_head(torch.nn.Sequential(torch.nn.Linear(2, 2)), 3)


def test_layer_groups_cover_every_parameter_once_in_depth_order():
    model = models.small_resnet()
    groups = finetune.layer_groups(model)
    assert [name for name, _ in groups] == ["stem", "layer1", "layer2", "layer3", "fc"]
    ids = [id(p) for _, params in groups for p in params]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(finetune.layer_groups(models.resnet18())) == 6


def test_discriminative_groups_shrink_by_the_factor_per_stage():
    groups = finetune.discriminative_groups(models.small_resnet(), head_lr=0.1, factor=0.5)
    assert [g["name"] for g in groups] == ["stem", "layer1", "layer2", "layer3", "fc"]
    np.testing.assert_allclose([g["lr"] for g in groups], [0.1 / 16, 0.1 / 8, 0.1 / 4, 0.1 / 2, 0.1])
    flat = finetune.discriminative_groups(models.small_resnet(), head_lr=0.1, factor=1.0)
    assert {g["lr"] for g in flat} == {0.1}
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\]"):
        finetune.discriminative_groups(models.small_resnet(), 0.1, factor=2.0)


def test_freeze_and_unfreeze_by_top_level_name():
    model = models.small_resnet()
    finetune.freeze(model)
    assert not any(p.requires_grad for p in model.parameters())
    finetune.unfreeze(model, ["fc", "layer3"])
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc", "layer3"}
    with pytest.raises(ValueError, match=r"prefixes \['head'\] name no parameters"):
        finetune.freeze(model, ["head"])


def test_fit_records_every_groups_lr_at_every_step_from_per_step_schedules(source):
    model = models.small_resnet(num_classes=5, seed=0)
    groups = finetune.discriminative_groups(model, head_lr=0.05, factor=0.5)
    optimizer = torch.optim.SGD(groups, lr=0.05, momentum=0.9)
    steps = 2 * -(-len(source.y_train) // 64)
    per_group = [schedules.warmup_cosine(g["lr"], warmup_steps=5, total_steps=steps) for g in groups]
    scheduler = schedules.to_torch(per_group, optimizer)
    history = finetune.fit(model, source, optimizer, epochs=2, scheduler=scheduler, device="cpu")
    assert history.steps_per_epoch == steps // 2 and len(history.lrs) == len(history.train_loss) == steps
    for g, name in enumerate(history.group_names):
        np.testing.assert_allclose(history.group_lrs(name), [per_group[g](t) for t in range(steps)], rtol=1e-12)
    assert history.group_names == ["stem", "layer1", "layer2", "layer3", "fc"]
    assert len(history.val_accuracy) == len(history.epoch_seconds) == len(history.images_per_second) == 2
    assert history.device == "cpu" and history.precision == "float32"
    assert history.epoch_loss[1] < history.epoch_loss[0] and history.val_accuracy[-1] > 0.35  # it learns (chance: 0.2)
    assert repr(history).startswith("FitHistory('': 2 epochs on cpu (float32), val accuracy")


def test_fit_is_seeded_and_leaves_frozen_parameters_alone(source):
    def run():
        model = finetune.freeze(models.small_resnet(num_classes=5, seed=0), ["conv1", "bn1", "layer1"])
        before = model.layer1[0].conv1.weight.clone()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        history = finetune.fit(model, source, optimizer, epochs=1, device="cpu", seed=3)
        assert torch.equal(model.layer1[0].conv1.weight, before)
        return history

    a, b = run(), run()
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss


def test_fit_validates_every_n_epochs_and_after_the_last(source):
    model = models.small_resnet(num_classes=5, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    history = finetune.fit(model, source, optimizer, epochs=5, device="cpu", val_every=2)
    assert history.val_epochs == [2, 4, 5] and len(history.val_accuracy) == 3 and len(history.epoch_loss) == 5
    with pytest.raises(ValueError, match="val_every must be >= 1"):
        finetune.fit(model, source, optimizer, epochs=1, device="cpu", val_every=0)


def test_evaluate_is_cross_entropy_and_accuracy(source):
    model = models.small_resnet(num_classes=5, seed=0)
    loss, acc = finetune.evaluate(model, source.X_val, source.y_val, batch_size=50)
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(source.X_val))
    assert loss == pytest.approx(F.cross_entropy(out, torch.as_tensor(source.y_val)).item(), rel=1e-5)
    assert acc == pytest.approx((out.argmax(1) == torch.as_tensor(source.y_val)).double().mean().item())
    assert model.training is False


def test_fit_rejects_bad_arguments(source):
    model = models.small_resnet(num_classes=5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="amp='bf16' needs a CUDA device"):
        finetune.fit(model, source, optimizer, epochs=1, device="cpu", amp="bf16")
    with pytest.raises(ValueError, match="amp must be one of"):
        finetune.fit(model, source, optimizer, epochs=1, device="cpu", amp="int8")
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer"):
        finetune.fit(model, source, "sgd", epochs=1)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        finetune.fit(model, source, optimizer, epochs=0)


def _stats(model):
    return {n: v.clone() for n, v in model.state_dict().items() if "running_" in n}


def test_a_frozen_body_still_moves_its_batchnorm_statistics_in_train_mode_and_keeps_them_in_eval_mode():
    target = data.digits_target(shots=5, seed=0)
    for batchnorm in ("train", "eval"):
        model = finetune.unfreeze(finetune.freeze(finetune.replace_head(models.pretrained_small_resnet(), 5)), ["fc"])
        stats, conv = _stats(model), model.layer1[0].conv1.weight.clone()
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
        modes = []   # (the model's mode, bn1's mode) at every forward pass of training, validation aside
        hook = model.bn1.register_forward_pre_hook(lambda m, args: modes.append((model.training, m.training)))
        finetune.fit(model, target, optimizer, epochs=2, batch_size=16, device="cpu", batchnorm=batchnorm)
        hook.remove()
        training = [mode for mode in modes if mode[0]]
        assert len(training) == 4 and all(bn == (batchnorm == "train") for _, bn in training)   # 2 epochs x 2 batches
        assert torch.equal(model.layer1[0].conv1.weight, conv)           # requires_grad=False: the weights stay
        moved = [n for n, v in _stats(model).items() if not torch.equal(v, stats[n])]
        if batchnorm == "train":   # ... but every BatchNorm layer of the body followed the target's batches
            assert {n.rsplit(".", 1)[0] for n in moved} >= {"bn1", "layer1.0.bn1", "layer3.0.bn2"}
        else:
            assert moved == []


def test_eval_mode_batchnorm_still_trains_its_scale_and_shift_and_train_bn_keeps_them_trainable():
    target = data.digits_target(shots=5, seed=0)
    model = finetune.freeze(finetune.replace_head(models.pretrained_small_resnet(), 5), train_bn=True)
    finetune.unfreeze(model, ["fc"])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    bn_names = {n for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert trainable == {f"{m}.{w}" for m in bn_names for w in ("weight", "bias")} | {"fc.weight", "fc.bias"}
    gamma, stats = model.bn1.weight.clone(), _stats(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    finetune.fit(model, target, optimizer, epochs=1, batch_size=16, device="cpu", batchnorm="eval")
    assert not torch.equal(model.bn1.weight, gamma) and all(torch.equal(v, stats[n]) for n, v in _stats(model).items())
    assert finetune.freeze(models.small_resnet(num_classes=5)).bn1.weight.requires_grad is False   # the default


def test_batchnorm_and_train_bn_name_a_bad_value():
    model = models.small_resnet(num_classes=5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batchnorm must be 'train' or 'eval', got 'frozen'"):
        finetune.fit(model, data.digits_target(shots=5, seed=0), optimizer, epochs=1, device="cpu", batchnorm="frozen")
    with pytest.raises(ValueError, match="train_bn must be True or False, got 'yes'"):
        finetune.freeze(model, train_bn="yes")
