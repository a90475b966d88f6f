"""lrcourse.models: torchvision's ResNet-18 layout without torchvision, and checkpoints through torch.hub's cache."""
from __future__ import annotations

import hashlib
import urllib.error

import pytest
import torch

from lrcourse import models


def _torchvision_resnet18_shapes(num_classes=1000):
    """torchvision.models.resnet18's state_dict (name -> shape), written out from its architecture."""
    shapes = {"conv1.weight": (64, 3, 7, 7)}

    def bn(prefix, c):
        shapes.update({f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
                       f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()})

    bn("bn1", 64)
    inplanes = 64
    for stage, planes in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{stage}.{block}"
            shapes[f"{p}.conv1.weight"] = (planes, inplanes if block == 0 else planes, 3, 3)
            bn(f"{p}.bn1", planes)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            if block == 0 and stage > 1:
                shapes[f"{p}.downsample.0.weight"] = (planes, inplanes, 1, 1)
                bn(f"{p}.downsample.1", planes)
        inplanes = planes
    shapes["fc.weight"], shapes["fc.bias"] = (num_classes, 512), (num_classes,)
    return shapes


def test_resnet18_has_torchvisions_names_shapes_and_parameter_count():
    model = models.resnet18()
    state = model.state_dict()
    expected = _torchvision_resnet18_shapes()
    assert list(state) == list(expected)  # the same names in the same order
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert sum(p.numel() for p in model.parameters()) == 11_689_512  # torchvision's published count
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_small_resnet_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = models.small_resnet(num_classes=5, seed=3)
    assert torch.equal(torch.rand(1), before)
    b = models.small_resnet(num_classes=5, seed=3)
    c = models.small_resnet(num_classes=5, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    x = torch.randn(4, 1, 8, 8)
    assert a(x).shape == (4, 5) and a.features(x).shape == (4, 64)
    assert list(a.state_dict())[:2] == ["conv1.weight", "bn1.weight"] and "layer3.0.downsample.0.weight" in a.state_dict()


@pytest.mark.parametrize("call, message", [
    (lambda: models.ResNet(stem="tiny"), "stem must be 'imagenet' or 'small'"),
    (lambda: models.ResNet(layers=(1, 1), widths=(8,)), "layers and widths must have the same"),
    (lambda: models.ResNet(num_classes=0), "num_classes must be >= 1"),
    (lambda: models.resnet18(weights="cifar"), "weights must be None or 'imagenet'"),
    (lambda: models.fetch_checkpoint("https://example.org/weights.pth"), "url must name a file like"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _cached_checkpoint(tmp_path, monkeypatch, state):
    """Write ``state`` into a torch.hub cache under TORCH_HOME, named with its own hash; point IMAGENET_URL at it."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    folder = tmp_path / "torch-home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    scratch = tmp_path / "scratch.pth"
    torch.save(state, scratch)
    prefix = hashlib.sha256(scratch.read_bytes()).hexdigest()[:8]
    target = folder / f"resnet18-{prefix}.pth"
    scratch.rename(target)
    monkeypatch.setattr(models, "IMAGENET_URL", f"https://download.pytorch.org/models/{target.name}")
    return target


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("no network in tests")


def test_imagenet_weights_load_from_the_hub_cache_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    published = models.resnet18(seed=7).state_dict()  # stands in for torchvision's file: same names and shapes
    _cached_checkpoint(tmp_path, monkeypatch, published)
    model = models.resnet18(weights="imagenet")
    assert all(torch.equal(v, published[k]) for k, v in model.state_dict().items())
    tuned = models.resnet18(num_classes=10, weights="imagenet", seed=1)
    assert torch.equal(tuned.layer4[1].conv2.weight, published["layer4.1.conv2.weight"])
    assert tuned.fc.weight.shape == (10, 512)
    assert torch.equal(tuned.fc.weight, models.resnet18(num_classes=10, seed=1).fc.weight)  # a fresh, seeded head


def test_a_damaged_cached_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    target = _cached_checkpoint(tmp_path, monkeypatch, models.resnet18().state_dict())
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="damaged or not the published file"):
        models.resnet18(weights="imagenet")


def test_a_missing_checkpoint_offline_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    with pytest.raises(RuntimeError, match="Offline\\? Copy the file to .*resnet18-f37072fd.pth"):
        models.resnet18(weights="imagenet", model_dir=tmp_path / "cache")


def test_a_checkpoint_that_does_not_fit_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    state = models.resnet18().state_dict()
    state["extra.weight"] = torch.zeros(1)
    _cached_checkpoint(tmp_path, monkeypatch, state)
    with pytest.raises(ValueError, match="does not fit ResNet-18: .*unexpected \\['extra.weight'\\]"):
        models.resnet18(weights="imagenet")


def test_downloads_go_through_torch_hub_with_the_hash_prefix(tmp_path, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        raise urllib.error.URLError("stop here")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with pytest.raises(RuntimeError):
        models.fetch_checkpoint(models.IMAGENET_URL, model_dir=tmp_path)
    assert calls == [("https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd")]


def test_the_shipped_checkpoint_is_small_verified_and_solves_its_source_task():
    from pathlib import Path

    from lrcourse import data, finetune

    name, digest, _ = models.PRETRAINED["digits04"]
    path = Path(models.__file__).parent / "weights" / name
    assert path.stat().st_size < 5 * 1024 * 1024
    assert models.state_digest(torch.load(path, weights_only=True)) == digest
    model = models.pretrained_small_resnet()
    source = data.digits_source(seed=0)
    _, accuracy = finetune.evaluate(model, source.X_test, source.y_test)
    assert accuracy >= 0.98  # 0.9945 when it was made (scripts/pretrain_digits.py)
    other = models.pretrained_small_resnet(num_classes=3, seed=2)
    assert other.fc.out_features == 3 and torch.equal(other.conv1.weight, model.conv1.weight)


def test_a_shipped_checkpoint_with_another_digest_is_refused(monkeypatch):
    name, digest, how = models.PRETRAINED["digits04"]
    monkeypatch.setitem(models.PRETRAINED, "digits04", (name, "0" * 64, how))
    with pytest.raises(RuntimeError, match="damaged or not the shipped checkpoint"):
        models.pretrained_small_resnet()
    with pytest.raises(ValueError, match="source must be one of 'digits04'"):
        models.pretrained_small_resnet(source="imagenet")


def test_state_digest_depends_on_values_names_and_dtypes_not_on_the_file():
    state = models.small_resnet().state_dict()
    digest = models.state_digest(state)
    assert models.state_digest({k: v.clone() for k, v in state.items()}) == digest
    changed = dict(state, **{"fc.bias": state["fc.bias"] + 1e-7})
    assert models.state_digest(changed) != digest
    assert models.state_digest({("x" + k): v for k, v in state.items()}) != digest
    assert models.state_digest(dict(state, **{"fc.bias": state["fc.bias"].double()})) != digest
