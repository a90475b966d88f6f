"""Checks and hints for notebook 06, fine-tuning a pretrained CNN (``from lrcourse.exercises import finetune as ex``).

The answers are about torch objects, so each check builds fresh ones
(a :func:`lrcourse.models.small_resnet`, an optimizer), calls the learner's
function and then inspects what it did: which parameters train, which group
has which LR, what LR every group has at every step, in which order the loop
called zero_grad, backward, the optimizer and the scheduler, and which LR each
update used. The model-surgery checks run on more than one architecture
(torchvision's ResNet-18 among them), so nothing model-specific can be
hard-coded. A wrong answer is recognised by the same observations made on the
known mistakes. ``fine_tune`` must also reach a stated accuracy on the held-out
target images. Each exercise's ``grade_id`` in the notebook equals its name here.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from ..i18n import N_, gettext_ as _
from ._core import Bound, Case, Mistake, fmt
from .kinds import LoopCase, LoopExercise, ModelCase, ObservedExercise, SchedulerCase, SchedulerExercise

__all__ = ["replace_head", "param_groups", "set_trainable", "warmup_cosine", "fine_tune", "FINE_TUNE_TARGET",
           "EXERCISES"]

STAGES = ("stem", "layer1", "layer2", "layer3", "fc")


#: The architectures the model-surgery cases are built on, by the name feedback shows.
ARCHITECTURES = {
    "small ResNet": lambda seed: _models().small_resnet(num_classes=5, seed=seed),
    N_("deeper, narrower small ResNet"): lambda seed: _models().small_resnet(num_classes=5, widths=(8, 16, 32),
                                                                        layers=(2, 1, 1), seed=seed),
    "ResNet-18": lambda seed: _models().resnet18(num_classes=1000, seed=seed),
}


def _models():
    from .. import models

    return models


_BUILT: dict = {}


def _model(seed: int = 0, frozen: bool = False, arch: str = "small ResNet", eval_mode: bool = False):
    """A fresh copy of the case's model (each architecture is built once, then copied: ResNet-18 takes a second)."""
    key = (arch, seed)
    if key not in _BUILT:
        _BUILT[key] = ARCHITECTURES[arch](seed)
    model = copy.deepcopy(_BUILT[key])
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    model.train(not eval_mode)
    return model


def _case_model(case: Case):
    return _model(case.seed, case.frozen, case.arch, getattr(case, "eval_mode", False))


def _mode(model) -> str:
    return "train" if model.training else "eval"


def _mode_problem(seen: dict, name: str) -> list[str]:
    """A function that prepares a model leaves its mode as it came: setting it is the training loop's job (train)
    and evaluation's (eval)."""
    if seen.get("mode before", seen.get("mode after")) == seen.get("mode after"):
        return []
    return [_("the model came in {before} mode and left in {after} mode: {name} must not call model.train() or "
              "model.eval(); the training loop sets train mode and evaluation sets eval mode").format(
        before=seen["mode before"], after=seen["mode after"], name=name)]


def _stage(name: str) -> str:
    top = name.split(".", 1)[0]
    return top if top in STAGES else "stem"


# --------------------------------------------------------------------------- replace_head

def _replace_head(model, num_classes):
    from torch import nn

    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def _observe_head(fn: Callable, case: Case) -> dict:
    import torch
    from torch import nn

    model = _case_model(case)
    mode = _mode(model)
    body = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    old_head = model.fc.weight.detach().clone()
    frozen = {n: p.requires_grad for n, p in model.named_parameters() if not n.startswith("fc.")}
    in_features, in_channels = model.fc.in_features, model.conv1.in_channels
    result = fn(model, **copy.deepcopy(case.kwargs))
    num_classes = case.kwargs["num_classes"]
    if not isinstance(result, nn.Module) or not hasattr(result, "layer1"):
        return {"returns": type(result).__name__, "summary": ""}
    if result is not model:
        return {"returns": "another model", "summary": ""}  # i18n: a key
    head = getattr(result, "fc", None)
    seen = {"returns": "model", "head": type(head).__name__, "mode before": mode, "mode after": _mode(result)}
    seen["body grad kept"] = all(p.requires_grad == frozen.get(n, p.requires_grad)  # i18n: a key
                                 for n, p in result.named_parameters() if not n.startswith("fc."))
    if isinstance(head, nn.Linear):
        seen["shape"] = (head.in_features, head.out_features)
        seen["weight shape"] = tuple(head.weight.shape)
        seen["trainable"] = all(p.requires_grad for p in head.parameters())
        seen["bias"] = head.bias is not None
        seen["fresh"] = head.weight.shape != old_head.shape or not torch.equal(head.weight.detach(), old_head)
    state = result.state_dict()
    seen["body kept"] = all(k in state and torch.equal(state[k], v) for k, v in body.items())
    was_training = result.training
    result.eval()
    try:
        with torch.no_grad():
            seen["output"] = tuple(result(torch.zeros(2, in_channels, 32, 32)).shape)
    except Exception as err:
        seen["output"] = f"{type(err).__name__}: {err}"
    result.train(was_training)
    seen["summary"] = _("the same model back, with a new trainable fc = nn.Linear({inputs}, {outputs}) and its body "
                        "untouched").format(inputs=in_features, outputs=num_classes)
    return seen


def _head_problems(seen: dict, expected: dict) -> list[str]:
    if seen["returns"] == "another model":  # i18n: a key
        return [_("it returned another model, not the one it was given: replace model.fc on the model passed in "
                  "and return that model")]
    if seen["returns"] != "model":
        return [_("it returned a {type}, not the model (return the model whose fc you replaced)").format(
            type=seen["returns"])]
    problems = []
    if seen.get("head") != "Linear":
        problems.append(_("model.fc is a {type}, not an nn.Linear").format(type=seen.get("head")))
    elif seen["weight shape"] != seen["shape"][::-1]:
        problems.append(_("model.fc.out_features says {outputs}, but its weight still has shape {shape}: setting the "
                          "attribute does not resize the layer, so the old head was kept, with its old weights and "
                          "outputs").format(outputs=seen["shape"][1], shape=seen["weight shape"]))
    elif seen["shape"] != expected["shape"]:
        problems.append(_("model.fc maps {inputs} features to {outputs}, expected {want_inputs} to {want_outputs}").format(
            inputs=seen["shape"][0], outputs=seen["shape"][1], want_inputs=expected["shape"][0],
            want_outputs=expected["shape"][1]))
    elif not seen["trainable"]:
        problems.append(_("the new head's parameters have requires_grad=False: it would never learn"))
    elif not seen["bias"]:
        problems.append(_("the new head has no bias: the pretrained head had one, and nn.Linear(in_features, "
                          "num_classes) makes one by default; bias=False takes away the per-class offset"))
    elif not seen["fresh"]:
        problems.append(_("model.fc still holds the pretrained head's weights"))
    if not seen["body kept"]:
        problems.append(_("the body's weights changed: only the head is replaced, the pretrained layers are the point"))
    elif not seen["body grad kept"]:  # i18n: a key
        problems.append(_("the body's requires_grad changed: leave the body alone (freezing it is set_trainable's "
                          "job, later in the notebook)"))
    if not problems and seen["output"] != expected["output"]:
        problems.append(_("the model does not run on a batch of 2 images: {error}").format(error=seen["output"]))
    return problems + _mode_problem(seen, "replace_head")


def _head_returns_linear(model, num_classes):
    from torch import nn

    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model.fc


def _head_then_freeze_all(model, num_classes):
    model = _replace_head(model, num_classes)
    for p in model.parameters():
        p.requires_grad = False
    return model


def _head_only_if_size_differs(model, num_classes):
    if model.fc.out_features != num_classes:
        return _replace_head(model, num_classes)
    return model


def _head_new_model(model, num_classes):
    from .. import models

    return models.small_resnet(num_classes=num_classes, seed=99)


def _head_sets_out_features(model, num_classes):
    model.fc.out_features = num_classes
    return model


def _head_hard_coded(model, num_classes):
    from torch import nn

    model.fc = nn.Linear(64, num_classes)
    return model


def _head_swapped(model, num_classes):
    from torch import nn

    model.fc = nn.Linear(num_classes, model.fc.in_features)
    return model


replace_head = ObservedExercise(
    name="replace_head",
    points=2,
    reference=_replace_head,
    cases=[
        ModelCase({"num_classes": 5}, N_("the same number of classes as the source task"), seed=0),
        ModelCase({"num_classes": 3}, seed=1, frozen=True),
        ModelCase({"num_classes": 10}, N_("a model handed over in eval mode"), seed=2, eval_mode=True),
        ModelCase({"num_classes": 7}, N_("torchvision's ResNet-18: 512 features into the head"), seed=0, arch=N_("ResNet-18")),
    ],
    exempt={"bounds": "no threshold: the new head is checked by its shape, freshness and the untouched body"},
    hint_text=N_("""
        The head is the last layer, model.fc, an nn.Linear(in_features, classes). Make a new one with
        the same in_features (model.fc.in_features) and num_classes outputs, assign it to model.fc,
        and return the model. A new nn.Linear is trainable and freshly initialised; leave the rest alone.
    """),
    observe=_observe_head,
    problems=_head_problems,
    mistakes=[
        Mistake(_head_returns_linear, N_("Return the model itself; model.fc is just its last layer.")),
        Mistake(_head_then_freeze_all,
                N_("The head was left frozen: freezing every parameter after replacing the head freezes the new "
                "head too. A new nn.Linear is trainable; freeze only the body, if anything.")),
        Mistake(_head_only_if_size_differs,
                N_("With the same number of classes the old head was kept: fine-tuning starts from a *fresh* head, "
                "since the source task's classes are not the target's.")),
        Mistake(_head_new_model,
                N_("That is a new, untrained model: the pretrained body must be kept; replace only model.fc.")),
        Mistake(_head_swapped,
                N_("nn.Linear takes (in_features, out_features): nn.Linear(model.fc.in_features, num_classes).")),
        Mistake(_head_sets_out_features,
                N_("Changing model.fc.out_features only changes a number stored on the layer: its weight keeps its "
                "shape and the model its old outputs. Replace the layer: "
                "model.fc = nn.Linear(model.fc.in_features, num_classes).")),
        Mistake(_head_hard_coded,
                N_("The head's input size was hard-coded as 64, the small ResNet's; read it from the model, "
                "model.fc.in_features (512 for ResNet-18), so the same code fits any backbone.")),
    ],
)


# --------------------------------------------------------------------------- param_groups

def _param_groups(model, head_lr, factor):
    groups = {name: [] for name in STAGES}
    for name, param in model.named_parameters():
        groups[_stage(name)].append(param)
    depth = len(STAGES) - 1
    return [{"params": groups[name], "lr": head_lr * factor ** (depth - i)} for i, name in enumerate(STAGES)]


def _batchnorm_names(model) -> set:
    from torch import nn

    return {f"{name}.{p}" for name, module in model.named_modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm) for p in ("weight", "bias")}


def _observe_groups(fn: Callable, case: Case) -> dict:
    import torch

    model = _case_model(case)
    names = {id(p): n for n, p in model.named_parameters()}
    batchnorm = _batchnorm_names(model)
    mode = _mode(model)
    result = fn(model, **copy.deepcopy(case.kwargs))
    seen: dict = {"mode before": mode, "mode after": _mode(model), "summary": _("five groups (stem, layer1, layer2, layer3, fc) with LRs ") + ", ".join(
        f"{case.kwargs['head_lr'] * case.kwargs['factor'] ** (4 - i):.3g}" for i in range(5))}
    if not isinstance(result, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in result):
        seen["form"] = type(result).__name__
        return seen
    seen["form"] = "groups"
    count: dict = {}
    by_stage: dict = {}
    strangers: list = []
    order: list = []  # the stage of each group, in the order returned (None for a group of several stages)
    for g in result:
        params = g["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)  # torch accepts one bare tensor
        lr = g.get("lr", None)
        stages = {_stage(names[id(p)]) for p in params if id(p) in names}
        order.append(stages.pop() if len(stages) == 1 else None)
        for p in params:
            name = names.get(id(p))
            if name is None:
                shape = tuple(p.shape) if hasattr(p, "shape") else None
                strangers.append(_("a {type}").format(type=type(p).__name__)
                                 + (_(" of shape {shape}").format(shape=shape) if shape is not None else ""))
                continue
            count[name] = count.get(name, 0) + 1
            by_stage.setdefault(_stage(name), set()).add(None if lr is None else round(float(lr), 15))
    seen["strangers"] = strangers
    seen["order"] = order
    seen["twice"] = sorted(n for n, c in count.items() if c > 1)
    missing = [n for n in names.values() if n not in count]
    seen["missing"] = missing
    seen["missing stages"] = [s for s in STAGES if any(_stage(n) == s for n in names.values())
                              and all(_stage(n) != s or n in missing for n in names.values())]
    seen["missing batchnorm only"] = bool(missing) and all(n in batchnorm for n in missing)  # i18n: a key
    seen["lrs"] = {stage: sorted(v, key=lambda x: -1 if x is None else x) for stage, v in by_stage.items()}
    return seen


def _groups_problems(seen: dict, expected: dict) -> list[str]:
    if seen["form"] != "groups":
        return [_("it returned a {type}; return a list of dicts, each {{'params': [...], 'lr': ...}}").format(
            type=seen["form"])]
    if seen["strangers"]:
        return [_("a group holds {thing} that is not one of the model's parameters: each 'params' must be a list of "
                  "the model's own parameters (the tensors model.named_parameters() gives), not their rows or "
                  "copies").format(thing=seen["strangers"][0])]
    if seen["twice"]:
        return [_("{name} is in more than one group (torch refuses a parameter in two groups)").format(
            name=seen["twice"][0])]
    missing = seen["missing"]
    if missing:
        whole = seen["missing stages"]
        if whole and all(_stage(n) in whole for n in missing):
            return [_("the parameters of {stages} are in no group: they would not train").format(stages=", ".join(whole))]
        shown = ", ".join(missing[:3]) + (_(" and {count} more").format(count=len(missing) - 3) if len(missing) > 3 else "")
        why = (" " + _("Every one of them belongs to a BatchNorm layer: its weight and bias are trainable parameters "
                       "too, and a filter on the names (such as 'conv' or 'weight') leaves them out; sort every "
                       "parameter by its stage instead") if seen["missing batchnorm only"] else "")  # i18n: a key
        if len(missing) > 1:
            text = _("{count} parameters are in no group, so they would not train: {names}").format(
                count=len(missing), names=shown)
        else:
            text = _("1 parameter is in no group, so it would not train: {names}").format(names=shown)
        return [f"{text}{'.' if why else ''}{why}"]
    for stage in STAGES:
        got, want = seen["lrs"].get(stage), expected["lrs"][stage]
        if got is None or len(got) != 1 or got[0] is None:
            return [_("the {stage} parameters must be in one group with one 'lr'").format(stage=stage)]
        if not math.isclose(got[0], want[0], rel_tol=1e-9):
            return [_("the {stage} group has lr {actual}, expected {expected}").format(
                stage=stage, actual=f"{got[0]:.4g}", expected=f"{want[0]:.4g}")]
    if seen.get("order") != list(STAGES):
        return [_("the groups come in the order {order}; return one group per stage, in the order stem, layer1, "
                  "layer2, layer3, fc").format(order=", ".join(s or "?" for s in seen.get("order", [])))]
    return _mode_problem(seen, "param_groups")


def _groups_variant(order="head-first", exponent_shift=0, skip_stem=False, all_in_head=False, one_lr=False,
                    skip_batchnorm=False, divide=False):
    def groups_fn(model, head_lr, factor):
        groups = {name: [] for name in STAGES}
        for name, param in model.named_parameters():
            stage = _stage(name)
            if (skip_stem and stage == "stem") or (skip_batchnorm and ".bn" in f".{name}"):
                continue
            groups[stage].append(param)
        out = []
        for i, name in enumerate(STAGES):
            power = (len(STAGES) - 1 - i) if order == "head-first" else i
            lr = head_lr if one_lr else head_lr * factor ** ((-1 if divide else 1) * (power + exponent_shift))
            params = list(model.parameters()) if (all_in_head and name == "fc") else groups[name]
            out.append({"params": params, "lr": lr})
        return out
    return groups_fn


param_groups = ObservedExercise(
    name="param_groups",
    points=2,
    reference=_param_groups,
    cases=[
        ModelCase({"head_lr": 0.01, "factor": 0.5}),
        ModelCase({"head_lr": 0.1, "factor": 0.25}, N_("a model handed over in eval mode"), seed=1, eval_mode=True),
        ModelCase({"head_lr": 0.003, "factor": 1.0}, N_("factor 1: one LR for all"), seed=2),
        ModelCase({"head_lr": 0.02, "factor": 0.3}, N_("two blocks in layer1"), seed=3, arch=N_("deeper, narrower small ResNet")),
    ],
    exempt={"bounds": "no threshold: each stage's LR is a formula"},
    hint_text=N_("""
        Walk model.named_parameters() and sort each parameter into its stage by the first part of its
        name: 'layer1', 'layer2', 'layer3', 'fc', and everything else ('conv1', 'bn1') is the stem.
        From the head down, each stage's LR is the previous one times factor: fc gets head_lr, layer3
        head_lr * factor, ..., the stem head_lr * factor**4. Return
        [{'params': [...], 'lr': ...}, ...] in the order stem, layer1, layer2, layer3, fc.
    """),
    observe=_observe_groups,
    problems=_groups_problems,
    mistakes=[
        Mistake(_groups_variant(one_lr=True),
                N_("All groups got the same LR: discriminative fine-tuning gives earlier layers smaller LRs "
                "(head_lr times factor once per stage below the head).")),
        Mistake(_groups_variant(order="stem-first"),
                N_("The LRs run the wrong way: the stem got head_lr. The head, freshly initialised, needs the "
                "largest LR; the earliest, most general layers the smallest.")),
        Mistake(_groups_variant(skip_stem=True),
                N_("conv1 and bn1 (the stem) are in no group, so they would not train at all; put them in the "
                "first group.")),
        Mistake(_groups_variant(all_in_head=True),
                N_("The head group holds model.parameters(), so every parameter is in two groups; give each "
                "group only its own stage's parameters.")),
        Mistake(_groups_variant(divide=True),
                N_("Each stage's LR was divided by factor: with factor below 1 the earlier layers then get *larger* "
                "LRs than the head. Multiply by factor once per stage below the head: layer3 head_lr * factor, "
                "the stem head_lr * factor**4.")),
        Mistake(_groups_variant(exponent_shift=1),
                N_("Every LR is one factor too small: the head gets head_lr itself, layer3 head_lr * factor.")),
        Mistake(_groups_variant(skip_batchnorm=True),
                N_("The BatchNorm parameters (bn1.weight, bn1.bias, ...) are in no group: they are trainable "
                "parameters too; sort every parameter of model.named_parameters() into its stage.")),
    ],
)


# --------------------------------------------------------------------------- set_trainable

def _set_trainable(model, stages):
    unfrozen = ("fc",) + tuple(reversed(STAGES[:-1]))[:stages]
    for name, param in model.named_parameters():
        param.requires_grad = _stage(name) in unfrozen
    return model


def _observe_trainable(fn: Callable, case: Case) -> dict:
    model = _case_model(case)
    mode = _mode(model)
    result = fn(model, **copy.deepcopy(case.kwargs))
    if result is not model:
        return {"returns": "None" if result is None else type(result).__name__, "summary": ""}
    target = result
    stages = case.kwargs["stages"]
    want = ("fc",) + tuple(reversed(STAGES[:-1]))[:stages]
    trainable: dict = {}
    for name, param in target.named_parameters():
        trainable.setdefault(_stage(name), set()).add(bool(param.requires_grad))
    return {"returns": "model", "mode before": mode, "mode after": _mode(model),
            "trainable": tuple(s for s in STAGES if trainable.get(s) == {True}),
            "mixed": tuple(s for s in STAGES if len(trainable.get(s, ())) > 1),
            "summary": _("only {stages} trainable").format(stages=", ".join(s for s in STAGES if s in want))}


def _trainable_problems(seen: dict, expected: dict) -> list[str]:
    if seen["returns"] != "model":
        return [_("it returned {thing}, not the model it was given: set requires_grad on the model's parameters "
                  "and return the model").format(thing=seen["returns"])]
    if seen["mixed"]:
        return [_("the {stage} stage is partly frozen: set a whole stage at once").format(stage=seen["mixed"][0])]
    if seen["trainable"] != expected["trainable"]:
        shown = ", ".join(seen["trainable"]) or _("nothing")
        if seen["mode after"] == "eval" != seen["mode before"]:
            return [_("trainable after the call: {stages}. model.eval() freezes nothing: it switches batch norm and "
                      "dropout to inference, and every parameter still gets gradients; freezing is "
                      "param.requires_grad = False").format(stages=shown)]
        return [_("trainable after the call: {stages}").format(stages=shown)]
    return _mode_problem(seen, "set_trainable")


def _trainable_variant(from_bottom=False, head=True, refreeze=True, shift=0, stem=True, slice_from_end=False,
                       head_counted=False):
    def set_fn(model, stages):
        order = list(STAGES[:-1]) if from_bottom or slice_from_end else list(reversed(STAGES[:-1]))
        if not stem:
            order = [s for s in order if s != "stem"]
        chosen = order[-stages:] if slice_from_end else order[:max(stages + shift, 0)]
        unfrozen = set(chosen) | ({"fc"} if head and (not head_counted or stages > 0) else set())
        for name, param in model.named_parameters():
            if _stage(name) in unfrozen:
                param.requires_grad = True
            elif refreeze:
                param.requires_grad = False
        return model
    return set_fn


set_trainable = ObservedExercise(
    name="set_trainable",
    points=2,
    reference=_set_trainable,
    cases=[
        ModelCase({"stages": 0}, N_("head only: the backbone frozen")),
        ModelCase({"stages": 1}, N_("unfreeze the last stage"), seed=1, frozen=True),
        ModelCase({"stages": 2}, N_("a model handed over in eval mode"), seed=2, eval_mode=True),
        ModelCase({"stages": 4}, N_("everything"), seed=3, frozen=True),
        ModelCase({"stages": 0}, N_("head only, on a model whose layers were all trainable"), seed=4,
                  arch=N_("deeper, narrower small ResNet")),
        ModelCase({"stages": 3}, N_("all but the stem"), seed=5, frozen=True, arch=N_("deeper, narrower small ResNet")),
    ],
    exempt={"bounds": "stages counts whole stages: the cases run from 0 to all 4"},
    hint_text=N_("""
        The stages from the top are fc, layer3, layer2, layer1, stem (conv1 and bn1). The head always
        trains; `stages` more are unfrozen counting down from layer3. Set requires_grad on *every*
        parameter, True or False, so that what was frozen or unfrozen before does not matter.
    """),
    observe=_observe_trainable,
    problems=_trainable_problems,
    mistakes=[
        Mistake(_trainable_variant(head=False),
                N_("The head was left frozen: the new head must always train, whatever the backbone does.")),
        Mistake(_trainable_variant(from_bottom=True),
                N_("The stages were unfrozen from the bottom (layer1 first); gradual unfreezing starts at the "
                "top, next to the head, where the features are the most task-specific.")),
        Mistake(_trainable_variant(refreeze=False),
                N_("Only requires_grad=True was set: parameters that were trainable before stay trainable. Set "
                "False on the rest.")),
        Mistake(_trainable_variant(shift=1), N_("One stage too many was unfrozen: stages=0 means the head only.")),
        Mistake(_trainable_variant(shift=-1),
                N_("One stage too few was unfrozen: the head is not counted in stages, so stages=1 unfreezes layer3 "
                "besides the head.")),
        Mistake(_trainable_variant(shift=-1, head_counted=True),
                N_("The head is not one of the stages: it always trains, and stages counts the stages unfrozen "
                "below it, so stages=0 leaves the head trainable and stages=1 adds layer3.")),
        Mistake(_trainable_variant(stem=False),
                N_("The stem (conv1, bn1) never unfreezes: with stages=4 everything trains.")),
        Mistake(_trainable_variant(slice_from_end=True),
                N_("With stages=0 everything was unfrozen: order[-stages:] is order[0:] when stages is 0 (-0 == 0), "
                "the whole list. Count from the head down and slice from the start, "
                "['layer3', 'layer2', 'layer1', 'stem'][:stages], or handle 0 on its own.")),
    ],
)


# --------------------------------------------------------------------------- warmup_cosine

def _warmup_cosine(optimizer, warmup_steps, total_steps):
    from torch.optim.lr_scheduler import LambdaLR

    def factor(step):
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return LambdaLR(optimizer, factor)


def _observed_steps(case: Case) -> int:
    """Steps 0 .. total_steps + 5: past the end the LR must stay at 0."""
    return case.kwargs["total_steps"] + 6


def _schedule_margins(key: str) -> Callable[[Case], list]:
    return lambda case: [t - case.kwargs[key] for t in range(_observed_steps(case))]


def _observe_schedule(fn: Callable, case: Case) -> dict:
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _unused in case.lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, case.lrs, strict=True)]
    optimizer = getattr(torch.optim, case.optimizer)(groups)
    scheduler = fn(optimizer, **copy.deepcopy(case.kwargs))
    if not hasattr(scheduler, "step"):
        return {"lrs": None, "kind": type(scheduler).__name__, "summary": ""}
    history = []
    for _unused in range(_observed_steps(case)):
        history.append(tuple(g["lr"] for g in optimizer.param_groups))
        optimizer.step()
        scheduler.step()
    w, t = case.kwargs["warmup_steps"], case.kwargs["total_steps"]
    return {"lrs": np.array(history), "kind": "scheduler",
            "summary": _("each group's LR rising linearly from 0 over {warmup} steps to its own lr, then falling along "
                         "a cosine to 0 at step {total}, and staying at 0 after it").format(warmup=w, total=t)}


def _schedule_problems(seen: dict, expected: dict) -> list[str]:
    if seen["lrs"] is None:
        return [_("it returned a {type}; return a torch LR scheduler (e.g. LambdaLR)").format(type=seen["kind"])]
    got, want = seen["lrs"], expected["lrs"]
    bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-9, atol=1e-12).all(axis=1))
    if bad.size:
        step = int(bad[0])
        return [_("at step {step} the groups' LRs are {actual}, expected {expected}").format(
            step=step, actual=fmt(list(got[step])), expected=fmt(list(want[step])))]
    return []


def _schedule_variant(warmup="linear", cosine_over="rest", absolute=False, end=0.0, clamp=True):
    def make(optimizer, warmup_steps, total_steps):
        from torch.optim.lr_scheduler import LambdaLR

        base = optimizer.param_groups[0]["lr"]

        def factor(step):
            if warmup == "off-by-one" and step < warmup_steps:
                f = (step + 1) / warmup_steps
            elif warmup == "none" or step >= warmup_steps:
                span = total_steps - warmup_steps if cosine_over == "rest" else total_steps
                start = 0 if warmup == "none" or cosine_over == "total" else warmup_steps
                progress = step / span if cosine_over == "total" else (step - start) / span
                progress = min(progress, 1.0) if clamp else progress
                f = end + (1 - end) * 0.5 * (1 + math.cos(math.pi * progress))
            else:
                f = step / warmup_steps
            return f * base if absolute else f

        return LambdaLR(optimizer, factor)
    return make


warmup_cosine = SchedulerExercise(
    name="warmup_cosine",
    points=2,
    reference=_warmup_cosine,
    cases=[
        SchedulerCase({"warmup_steps": 5, "total_steps": 40}, N_("two groups, discriminative LRs"), lrs=(0.01, 0.1)),
        SchedulerCase({"warmup_steps": 1, "total_steps": 10}, lrs=(0.05,), optimizer="Adam"),
        SchedulerCase({"warmup_steps": 20, "total_steps": 60}, lrs=(0.001, 0.004, 0.016)),
    ],
    bounds=(Bound("the end of the warmup, step == warmup_steps", _schedule_margins("warmup_steps")),
            Bound("the end of the cosine, step == total_steps", _schedule_margins("total_steps"))),
    hint_text=N_("""
        torch.optim.lr_scheduler.LambdaLR(optimizer, factor) multiplies each group's own lr by
        factor(step), so one function serves every group. factor(step) = step / warmup_steps while
        step < warmup_steps; after that, with p = (step - warmup_steps) / (total_steps - warmup_steps),
        factor = 0.5 * (1 + cos(pi * p)), which is 1 at the end of warmup and 0 at total_steps. Clamp p with
        min(p, 1.0), so the factor stays at 0 past total_steps.
    """),
    observe=_observe_schedule,
    problems=_schedule_problems,
    mistakes=[
        Mistake(_schedule_variant(warmup="none"),
                N_("There is no warmup: the LR starts at its peak. Rise linearly from 0 over warmup_steps first.")),
        Mistake(_schedule_variant(warmup="off-by-one"),
                N_("The warmup is one step ahead: factor(step) = step / warmup_steps is 0 at step 0 and reaches "
                "1 exactly at step warmup_steps.")),
        Mistake(_schedule_variant(cosine_over="total after warmup"),  # i18n: a key
                N_("The cosine's progress is divided by total_steps, but it starts after the warmup: it runs over "
                "the remaining total_steps - warmup_steps steps, (step - warmup_steps) / (total_steps - "
                "warmup_steps), so that it reaches 0 at step total_steps.")),
        Mistake(_schedule_variant(cosine_over="total"),
                N_("The cosine was laid over all total_steps, from step 0; it starts after the warmup and spans "
                "total_steps - warmup_steps, so it is at 1 when the warmup ends.")),
        Mistake(_schedule_variant(absolute=True),
                N_("factor returned an LR, not a factor: LambdaLR multiplies each group's own lr by it, so every "
                "group's LR was scaled by the first group's. Return the multiplier.")),
        Mistake(_schedule_variant(end=0.1),
                N_("The cosine ends at a tenth of the LR instead of 0 at total_steps.")),
        Mistake(_schedule_variant(clamp=False),
                N_("After total_steps the LR climbs back up: the cosine goes on past its end. Clamp the progress, "
                "min(p, 1.0), so the factor stays at 0 if the loop runs longer than planned.")),
    ],
)


# --------------------------------------------------------------------------- fine_tune

#: The held-out accuracy a correct ``fine_tune`` must reach on the 5-shot target task (see the notebook).
FINE_TUNE_TARGET = 0.65


def _fine_tune(model, optimizer, scheduler, batches, epochs):
    from torch.nn import functional as F

    losses = []
    for _ in range(epochs):
        model.train()
        for inputs, targets in batches:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    return losses


def _loop_setup(case: LoopCase):
    import torch
    from torch import nn

    from .. import data, finetune, models
    from .._seeding import seeded

    target = data.digits_target(shots=case.shots, seed=0)
    if case.model == "MLP":
        model = seeded(0, lambda: nn.Sequential(nn.Flatten(), nn.Linear(256, 32), nn.ReLU(), nn.Linear(32, 5)))
    else:
        model = finetune.replace_head(models.pretrained_small_resnet(num_classes=5), 5, seed=0)
    X, y = torch.as_tensor(target.X_train), torch.as_tensor(target.y_train)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    batches = [(X[order[i:i + 16]], y[order[i:i + 16]]) for i in range(0, len(y), 16)]
    return target, model, batches


def _loop_tools(case: LoopCase, model, total: int):
    import torch

    if case.optimizer == "AdamW":
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.01)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    if case.schedule == "StepLR":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    else:
        scheduler = _warmup_cosine(optimizer, max(1, total // 10), total)
    return optimizer, scheduler


class _Spy:
    """Logs calls to an object's ``step`` and ``zero_grad`` in a shared event list, delegating everything."""

    def __init__(self, inner: Any, events: list, label: str, on_step: Callable | None = None):
        self._inner, self._events, self._label, self._on_step = inner, events, label, on_step

    def step(self, *args, **kwargs):
        self._events.append((self._label, self._on_step() if self._on_step else None))
        return self._inner.step(*args, **kwargs)

    def zero_grad(self, *args, **kwargs):
        self._events.append(("zero_grad", None))
        return self._inner.zero_grad(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _observe_loop(fn: Callable, case: Case) -> dict:
    import torch
    from torch.nn import functional as F

    from .. import finetune

    target, model, batches = _loop_setup(case)
    with torch.no_grad():  # the first batch's loss before any update: what the loop's first loss must be
        logits = copy.deepcopy(model).train()(batches[0][0])
        first = {"cross-entropy": F.cross_entropy(logits, batches[0][1]).item(),  # i18n: a key
                 "nll on logits": F.nll_loss(logits, batches[0][1]).item()}  # i18n: a key
    if case.eval_first:
        model.eval()
    total = case.epochs * len(batches)
    optimizer, scheduler = _loop_tools(case, model, total)
    params = [p for g in optimizer.param_groups for p in g["params"]]

    def update():  # what the optimizer is about to use: the LR of the first group, and whether any gradient is set
        with torch.no_grad():
            no_gradient = all(p.grad is None or not bool(p.grad.any()) for p in params)
        return optimizer.param_groups[0]["lr"], no_gradient

    events: list = []
    spy_opt = _Spy(optimizer, events, "optimizer", update)
    spy_sched = _Spy(scheduler, events, "scheduler")
    # model.zero_grad() resets the gradients as well as optimizer.zero_grad() does: log it too
    model.zero_grad = _Spy(type("Resetter", (), {"zero_grad": staticmethod(model.zero_grad)})(), events,
                           "model").zero_grad  # type: ignore[method-assign]
    modes: list = []
    hook = model.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    # Whether backward() added to gradients still there from an earlier batch: a tensor hook runs before the new
    # gradient is accumulated into p.grad, so it sees what is left. However the loop resets them (zero_grad on the
    # optimizer or the model, set_to_none or not, p.grad = None by hand), a reset leaves nothing.
    stale: list = []
    grad_hooks = [p.register_hook(lambda g, p=p: stale.append(p.grad is not None and bool(p.grad.any())))
                  for p in params if p.requires_grad]
    weight = next(iter(model.parameters()))
    before = weight.detach().clone()
    try:
        losses = fn(model, spy_opt, spy_sched, batches, case.epochs)
    finally:
        hook.remove()
        for grad_hook in grad_hooks:
            grad_hook.remove()
    updates = [info for label, info in events if label == "optimizer"]
    kinds = [label for label, _unused in events]
    seen = {"steps": len(updates), "scheduler steps": kinds.count("scheduler"),
            "scheduler first": "scheduler" in kinds and ("optimizer" not in kinds
                                                         or kinds.index("scheduler") < kinds.index("optimizer")),
            "update lrs": np.array([lr for lr, _unused in updates], dtype=np.float64),
            "blind updates": sum(blind for _unused, blind in updates),
            "zero_grads": not any(stale),
            "train mode": bool(modes) and all(modes),
            "losses": len(losses) if isinstance(losses, (list, tuple, np.ndarray)) else None,
            "tensor losses": isinstance(losses, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in losses),
            "body moved": not torch.equal(weight.detach(), before),
            "first loss": next((name for name, value in first.items() if isinstance(losses, (list, tuple)) and losses
                                and isinstance(losses[0], float) and math.isclose(losses[0], value, rel_tol=1e-6)),
                               "other"),
            "summary": _("{total} optimizer and scheduler steps (one per batch: {batches} batches x {epochs} epochs), "
                         "each optimizer.step() before its scheduler.step(), in train mode, returning {total} "
                         "losses").format(total=total, batches=len(batches), epochs=case.epochs)}
    if case.measure:
        seen["accuracy"] = finetune.evaluate(model, target.X_test, target.y_test)[1]
    return seen


def _loop_problems(seen: dict, expected: dict) -> list[str]:
    problems = []
    if seen["scheduler steps"] != expected["scheduler steps"]:
        problems.append(_("the scheduler was stepped {count} times, expected {expected} (once per batch)").format(
            count=seen["scheduler steps"], expected=expected["scheduler steps"]))
    if seen["steps"] != expected["steps"]:
        problems.append(_("the optimizer stepped {count} times, expected {expected}").format(
            count=seen["steps"], expected=expected["steps"]))
    if not problems:
        got, want = seen["update lrs"], expected["update lrs"]
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-9, atol=1e-15))
        if seen["scheduler first"]:
            problems.append(_("scheduler.step() ran before optimizer.step(), so every update used the *next* step's LR: "
                              "update 1 used {actual} instead of the schedule's first value {expected}, which was "
                              "skipped. Call optimizer.step() first, then scheduler.step() (torch warns about the "
                              "other order)").format(actual=fmt(float(got[0])), expected=fmt(float(want[0]))))
        elif bad.size:
            k = int(bad[0])
            problems.append(_("update {number} used LR {actual}, expected {expected}, the schedule's value at step "
                              "{step}").format(number=k + 1, actual=fmt(float(got[k])), expected=fmt(float(want[k])),
                                               step=k))
    if seen["blind updates"]:
        problems.append(_("{count} of the {steps} updates saw only zero gradients: the gradients were reset between "
                          "loss.backward() and optimizer.step(), so the update could not use them. Reset them before "
                          "the forward pass (zero_grad(), then loss, backward, step)").format(
            count=seen["blind updates"], steps=seen["steps"]))
    if not seen["zero_grads"]:
        problems.append(_("backward() added to gradients left over from an earlier batch, so they pile up from batch "
                          "to batch: reset them before each backward() (optimizer.zero_grad())"))
    if not seen["train mode"]:
        problems.append(_("the model ran in eval mode while training: call model.train() before the batches (batch "
                          "norm and dropout act otherwise in eval mode, and a model may be handed over in it)"))
    if seen["first loss"] == "nll on logits" != expected["first loss"]:  # i18n: a key
        problems.append(_("its first loss is F.nll_loss of the model's raw outputs: nll_loss expects log-probabilities "
                          "and only picks out -output[target], which training then pushes up without bound. Use "
                          "F.cross_entropy(model(inputs), targets), which applies log_softmax itself"))
    if seen["tensor losses"] and not expected["tensor losses"]:
        problems.append(_("it returned the loss tensors themselves, each holding its whole graph in memory: append "
                          "loss.item(), a number"))
    if seen["losses"] != expected["losses"]:
        problems.append(_("it returned {count} losses, expected one per batch ({expected})").format(
            count=seen["losses"], expected=expected["losses"]))
    if "accuracy" in seen and seen["accuracy"] < FINE_TUNE_TARGET:
        problems.append(_("the fine-tuned model reaches {accuracy} on the held-out target images, below the {target} a "
                          "correct loop reaches").format(accuracy=f"{seen['accuracy']:.3f}", target=FINE_TUNE_TARGET))
    return problems


def _loop_variant(per_epoch=False, no_zero=False, eval_mode=False, epoch_losses=False, no_scheduler=False,
                  reset_through_model=False, backward=True, scheduler_first=False, zero_after_backward=False,
                  set_mode=True, item=True, reset_by_hand=False, reset_once_per_epoch=False):
    def loop(model, optimizer, scheduler, batches, epochs):
        from torch.nn import functional as F

        losses = []
        for _ in range(epochs):
            if set_mode:
                model.eval() if eval_mode else model.train()
            if reset_once_per_epoch:
                optimizer.zero_grad()
            epoch = []
            for inputs, targets in batches:
                if reset_by_hand:
                    for param in model.parameters():
                        param.grad = None
                elif not no_zero and not zero_after_backward and not reset_once_per_epoch:
                    (model if reset_through_model else optimizer).zero_grad()
                loss = F.cross_entropy(model(inputs), targets)
                if backward:
                    loss.backward()
                if zero_after_backward:
                    optimizer.zero_grad()
                if scheduler_first and not per_epoch and not no_scheduler:
                    scheduler.step()
                optimizer.step()
                if not scheduler_first and not per_epoch and not no_scheduler:
                    scheduler.step()
                epoch.append(loss.item() if item else loss)
            if per_epoch:
                scheduler.step()
            losses.extend([float(np.mean(epoch))] if epoch_losses else epoch)
        return losses
    return loop


fine_tune = LoopExercise(
    name="fine_tune",
    points=2,
    reference=_fine_tune,
    cases=[
        LoopCase({}, N_("the loop's bookkeeping"), shots=5, epochs=3),
        LoopCase({}, N_("another model, optimizer and schedule, handed over in eval mode"), shots=4, epochs=3,
                 model="MLP", optimizer="AdamW", schedule="StepLR", eval_first=True),
        LoopCase({}, N_("a real run: at least {target} held-out accuracy"), shots=5, epochs=30, measure=True),
    ],
    exempt={"bounds": "a loop applies no threshold of its own; the accuracy target is checked on the real run",
            "hidden": "it takes no input to draw: the check trains one fixed model on fixed data and "
                      "watches every step, which a function that memorised answers cannot fake"},
    hint_text=N_("""
        For each epoch: model.train(), then for each (inputs, targets) in batches: optimizer.zero_grad(),
        loss = F.cross_entropy(model(inputs), targets), loss.backward(), optimizer.step(), and
        scheduler.step() *after every batch*: the schedule counts steps, not epochs. Append loss.item()
        each time and return the list.
    """),
    observe=_observe_loop,
    problems=_loop_problems,
    note_values={"target": FINE_TUNE_TARGET},
    mistakes=[
        Mistake(_loop_variant(per_epoch=True),
                N_("The scheduler was stepped once per epoch instead of once per batch: the warmup and the cosine "
                "are counted in batches, so the run covered only 1/(batches per epoch) of the schedule.")),
        Mistake(_loop_variant(no_scheduler=True), N_("scheduler.step() is never called: the LR never changes.")),
        Mistake(_loop_variant(no_zero=True),
                N_("optimizer.zero_grad() is missing: backward() adds to the gradients already there.")),
        Mistake(_loop_variant(eval_mode=True),
                N_("The model trained in eval mode: call model.train() (the notebook evaluates in eval mode).")),
        Mistake(_loop_variant(epoch_losses=True), N_("Return every batch's loss, not one mean per epoch.")),
        Mistake(_loop_variant(scheduler_first=True),
                N_("scheduler.step() comes after optimizer.step(): stepped first, it moves the LR on before the "
                "update that should use it (notebook 02, section 4).")),
        Mistake(_loop_variant(zero_after_backward=True),
                N_("zero_grad() between loss.backward() and optimizer.step() wipes the gradients the update needs: "
                "reset them at the start of the batch.")),
    ],
)

EXERCISES = [replace_head, param_groups, set_trainable, warmup_cosine, fine_tune]
