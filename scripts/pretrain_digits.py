"""Pretrain the small ResNet that notebook 06 fine-tunes, on the source task: distorted digits 0-4.

    python scripts/pretrain_digits.py      # writes lrcourse/weights/small_resnet_digits04.pt

The source task is ``lrcourse.data.digits_source(seed=0, copies=10)``: 5,400
distorted 16x16 images of the digits 0-4 (10 distorted copies of each of the
540 training images). The target task of notebook 06, the digits 5-9, never
appears here. Seeded end to end (initialisation, distortions, batch order),
single-threaded float32 on the CPU. torch.save puts a random id in the file,
so the checksum in ``lrcourse.models.PRETRAINED`` is over the tensors
(``models.state_digest``), which this script prints, with the source-task
accuracies and the time taken (13 s on one core of the 2-core CI machine; source test accuracy 0.9945).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from lrcourse import data, finetune, models, schedules

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "lrcourse" / "weights" / "small_resnet_digits04.pt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--max-lr", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    start = time.perf_counter()
    split = data.digits_source(seed=0, copies=args.copies)
    model = models.small_resnet(num_classes=split.num_classes, seed=0)
    steps = args.epochs * -(-len(split.y_train) // 64)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.max_lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scheduler = schedules.to_torch(schedules.one_cycle(args.max_lr, steps), optimizer)
    history = finetune.fit(model, split, optimizer, epochs=args.epochs, scheduler=scheduler, batch_size=64,
                           device="cpu", seed=0, label="pretrain")
    seconds = time.perf_counter() - start
    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, args.out)
    _, test_acc = finetune.evaluate(model, split.X_test, split.y_test)
    print(f"source task {split.name} ({len(split.y_train)} training images): validation accuracy "
          f"{history.val_accuracy[-1]:.4f}, test accuracy {test_acc:.4f}, last epoch loss {history.epoch_loss[-1]:.4f}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {seconds:.1f} s")
    print(f"state_digest {models.state_digest(state)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
