"""Residual CNNs for notebook 06, with torchvision's parameter names, and no torchvision.

:class:`ResNet` is He et al.'s residual network (2016) as torchvision writes
it: ``conv1``, ``bn1``, ``layer1`` ... ``layer4`` of :class:`BasicBlock`
(``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample``), global average
pooling and ``fc``. Two ways to build one:

- :func:`small_resnet`: about 77,000 parameters, for small grey-scale
  images such as notebook 06's 16x16 digits, on a CPU (3x3 stem, no max-pooling);
- :func:`resnet18`: torchvision's ResNet-18, name for name and shape for
  shape, so ``weights="imagenet"`` loads torchvision's published ImageNet
  checkpoint through ``torch.hub``'s cache (online machines only; the file's
  SHA-256 is checked, also when it is already cached).

>>> model = small_resnet(num_classes=5)
>>> sum(p.numel() for p in model.parameters())
77429
>>> [name for name, _ in model.named_children()]
['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'avgpool', 'fc']
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlparse

from ._seeding import seeded
from ._validation import choice_error, integer
from .i18n import gettext_ as _

__all__ = ["BasicBlock", "ResNet", "small_resnet", "resnet18", "IMAGENET_URL", "fetch_checkpoint",  # noqa: F822 (lazy)
           "state_digest", "pretrained_small_resnet", "PRETRAINED"]

#: torchvision's ResNet-18 ImageNet weights (``ResNet18_Weights.IMAGENET1K_V1``); the part of
#: the file name after the dash is the start of the file's SHA-256, as ``torch.hub`` expects.
IMAGENET_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
_HASH = re.compile(r"-([a-f0-9]{8,})\.")


def _nn():
    from torch import nn

    return nn


def _make_block_class():
    nn = _nn()

    class BasicBlock(nn.Module):
        """Two 3x3 convolutions with batch norm, plus the input (projected when the shape changes)."""

        expansion = 1

        def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Any = None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    return BasicBlock


def _make_resnet_class(block_cls):
    nn = _nn()

    class ResNet(nn.Module):
        """A residual network with torchvision's layout and parameter names.

        ``layers`` gives the number of blocks per stage and ``widths`` their
        channels (stage ``i > 0`` halves the resolution). ``stem="imagenet"``
        is torchvision's 7x7 stride-2 convolution and 3x3 max-pooling;
        ``stem="small"`` a 3x3 stride-1 convolution and no pooling, for tiny
        images. Weights are initialised as torchvision does (Kaiming normal,
        fan-out, for convolutions; batch norm at weight 1, bias 0).
        """

        def __init__(self, layers: Sequence[int] = (2, 2, 2, 2), num_classes: int = 1000, in_channels: int = 3,
                     widths: Sequence[int] = (64, 128, 256, 512), stem: str = "imagenet"):
            super().__init__()
            if stem not in ("imagenet", "small"):
                raise ValueError(_("stem must be 'imagenet' or 'small', got {stem!r}").format(stem=stem))
            if len(layers) != len(widths) or not layers:
                raise ValueError(_("layers and widths must have the same, non-zero length, got {layers!r} and "
                                   "{widths!r}").format(
                    layers=layers, widths=widths))
            layers = [integer("layers", n, minimum=1) for n in layers]
            widths = [integer("widths", w, minimum=1) for w in widths]
            num_classes = integer("num_classes", num_classes, minimum=1)
            in_channels = integer("in_channels", in_channels, minimum=1)
            self.inplanes = widths[0]
            big = stem == "imagenet"
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7 if big else 3, stride=2 if big else 1,
                                   padding=3 if big else 1, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool: Any = nn.MaxPool2d(3, stride=2, padding=1) if big else nn.Identity()
            for i, (blocks, width) in enumerate(zip(layers, widths, strict=True)):
                setattr(self, f"layer{i + 1}", self._make_layer(width, blocks, stride=1 if i == 0 else 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(widths[-1] * block_cls.expansion, num_classes)
            self.num_stages = len(layers)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes: int, blocks: int, stride: int) -> Any:
            downsample = None
            if stride != 1 or self.inplanes != planes * block_cls.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block_cls.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block_cls.expansion))
            stage = [block_cls(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block_cls.expansion
            stage += [block_cls(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*stage)

        def features(self, x: Any) -> Any:
            """The pooled features the head sees, shape ``(batch, widths[-1])``."""
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for i in range(self.num_stages):
                x = getattr(self, f"layer{i + 1}")(x)
            return self.avgpool(x).flatten(1)

        def forward(self, x: Any) -> Any:
            return self.fc(self.features(x))

    return ResNet


_CLASSES: dict = {}


def __getattr__(name: str) -> Any:
    # The classes subclass torch.nn.Module, so they are made on first use: importing
    # lrcourse.models stays free of torch until a model is needed.
    if name in ("BasicBlock", "ResNet"):
        if not _CLASSES:
            block = _make_block_class()
            _CLASSES.update(BasicBlock=block, ResNet=_make_resnet_class(block))
        return _CLASSES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def small_resnet(num_classes: int = 10, in_channels: int = 1, widths: Sequence[int] = (16, 32, 64),
                 layers: Sequence[int] = (1, 1, 1), seed: int = 0) -> Any:
    """A small residual CNN for small grey-scale images (any size; global pooling), initialised from ``seed``.

    Three stages of one block each (16, 32 and 64 channels; the second and
    third halve the resolution), a 3x3 stem without pooling: 77,754
    parameters with a 10-class head.
    """
    return seeded(seed, lambda: __getattr__("ResNet")(layers, num_classes, in_channels, widths, stem="small"))


def resnet18(num_classes: int = 1000, weights: str | None = None, progress: bool = True,
             model_dir: str | Path | None = None, seed: int = 0) -> Any:
    """torchvision's ResNet-18 (11.7 M parameters), with its parameter names and shapes.

    ``weights=None`` initialises it from ``seed``. ``weights="imagenet"``
    loads torchvision's ImageNet checkpoint (:data:`IMAGENET_URL`) from the
    ``torch.hub`` cache (``$TORCH_HOME/hub/checkpoints``, or ``model_dir``),
    downloading it there first when it is missing (online machines only). The
    file's SHA-256 must start with the hash in its name. With ``num_classes``
    other than 1000 the ImageNet body is loaded and the new ``fc`` head keeps
    its fresh (seeded) initialisation: the usual start of a fine-tuning run.
    """
    if weights not in (None, "imagenet"):
        raise ValueError(_("weights must be None or 'imagenet', got {weights!r}").format(weights=weights))
    model = seeded(seed, lambda: __getattr__("ResNet")((2, 2, 2, 2), num_classes))
    if weights == "imagenet":
        state = fetch_checkpoint(IMAGENET_URL, model_dir=model_dir, progress=progress)
        if num_classes != 1000:
            state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        expected_missing = [] if num_classes == 1000 else ["fc.bias", "fc.weight"]
        if sorted(missing) != expected_missing or unexpected:
            raise ValueError(_("the checkpoint does not fit ResNet-18: missing {missing}, unexpected "
                               "{unexpected}").format(
                missing=missing, unexpected=unexpected))
    return model


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_checkpoint(url: str, model_dir: str | Path | None = None, progress: bool = True) -> dict:
    """A ``state_dict`` from ``url`` through the ``torch.hub`` cache, its SHA-256 prefix checked.

    The file name must carry the start of the file's SHA-256 after a dash
    (``name-<hash>.pth``), as torch.hub's checkpoints do. A cached file is
    checked too (``torch.hub`` only checks what it downloads), so a truncated
    or altered file is reported instead of loaded. Loading uses
    ``weights_only=True``: a checkpoint cannot run code.
    """
    import torch

    name = Path(urlparse(url).path).name
    match = _HASH.search(name)
    if match is None:
        raise ValueError(_("url must name a file like 'name-<sha256 prefix>.pth', got {url!r}").format(url=url))
    prefix = match.group(1)
    folder = Path(model_dir) if model_dir is not None else Path(torch.hub.get_dir()) / "checkpoints"
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(path), hash_prefix=prefix, progress=progress)
        except Exception as err:
            raise RuntimeError(_("could not download {url} ({type}: {err}). Offline? Copy the file to {path} from a "
                                 "machine that has it (it is torch.hub's cache, shared with torchvision).").format(
                url=url, type=type(err).__name__, err=err, path=path)) from err
    digest = _sha256(path)
    if not digest.startswith(prefix):
        raise RuntimeError(_("{path} is damaged or not the published file: its SHA-256 starts {digest}, expected "
                             "{prefix}. Delete it to download it again.").format(
            path=path, digest=digest[:len(prefix)], prefix=prefix))
    return torch.load(path, map_location="cpu", weights_only=True)


def state_digest(state: dict) -> str:
    """SHA-256 over a ``state_dict``'s names, dtypes, shapes and bytes, in name order.

    ``torch.save`` writes a random id into every file, so two saves of the
    same tensors differ byte for byte; this digest does not.
    """
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        if not torch.is_tensor(tensor):
            raise ValueError(_("state[{name!r}] is not a tensor: a state_dict holds only tensors").format(name=name))
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


#: Checkpoints shipped inside the package: file name, ``state_digest``, and how they were made.
PRETRAINED = {
    "digits04": ("small_resnet_digits04.pt", "70bd1fc58bc0dbba1532e82ea0b04750b08e5720af1028cfe52c44c93467b8ae",
                 "small_resnet(num_classes=5) trained by scripts/pretrain_digits.py on data.digits_source(copies=10)"),
}


def pretrained_small_resnet(num_classes: int = 5, seed: int = 0, source: str = "digits04") -> Any:
    """The shipped small ResNet pretrained on distorted digits 0-4, its checksum verified.

    With ``num_classes`` other than 5 the pretrained body is loaded and the
    head is a fresh (seeded) ``fc`` with ``num_classes`` outputs; with 5 the
    source task's head is kept.
    """
    import torch

    if source not in PRETRAINED:
        raise choice_error("source", source, PRETRAINED)
    name, digest, _about = PRETRAINED[source]
    path = Path(__file__).resolve().parent / "weights" / name
    state = torch.load(path, map_location="cpu", weights_only=True)
    found = state_digest(state)
    if found != digest:
        raise RuntimeError(_("{path} is damaged or not the shipped checkpoint: its digest is {found}..., expected "
                             "{digest}...; reinstall lrcourse").format(
            path=path, found=found[:12], digest=digest[:12]))
    model = small_resnet(num_classes=num_classes, seed=seed)
    if num_classes != 5:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    model.load_state_dict(state, strict=num_classes == 5)
    return model
