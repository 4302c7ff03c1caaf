"""Fine-tune a copy of a model on one task, exactly as the official BabyLM code does.

The same seed, model, head, data order and optimiser as ``evaluation_pipeline.finetune`` give
the same predictions on the CPU: the seed is set as its ``seed_everything`` sets it, the body
is loaded and the head built in its order (so their initial weights are the same), each
epoch's order is drawn by a ``DataLoader`` sampler from the global generator as its own is,
and AdamW with its cosine schedule (warm-up, then down to ``min_factor`` x lr) steps once per
batch. Faster where nothing it computes changes: the text is tokenised once, not every epoch;
no weight average is kept (the official one has decay 0, a copy of the weights); no metrics
are computed, and nothing is copied to the host, on training steps; the validation pass at the
best epoch gives the predictions and figures, where the official code scores the validation
file twice more at the end; nothing is written to disk until the task is done.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from babylm.config import FinetuneConfig
from babylm.finetune.classifier import ClassifierHead, SequenceClassifier, padding_side
from babylm.finetune.tasks import TASKS, Example, TaskSpec, read_examples


@dataclass(frozen=True)
class Plan:
    """A task's settings once the task's own defaults are filled in."""

    pooling: str
    batch_size: int
    epochs: int
    device: str
    autocast: bool


def seed_everything(seed: int) -> None:
    """As the official ``utils.seed_everything``: every generator it seeds, in its order."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)


def cosine_with_warmup(optimizer: Any, warmup: int, total: int, floor: float) -> Any:
    """Linear warm-up to lr, then a cosine down to ``floor`` x lr (the official schedule)."""

    def factor(step: int) -> float:
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(floor, floor + (1 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def metrics(labels: list[int], preds: list[int], names: tuple[str, ...]) -> dict[str, float]:
    """The official figures, by scikit-learn's functions (F1 of class 1; Matthews' r)."""
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    compute = {"accuracy": accuracy_score, "f1": f1_score, "mcc": matthews_corrcoef}
    return {name: float(compute[name](labels, preds)) for name in names}


class Encoded:
    """A split tokenised once; ``batch`` pads the chosen rows as the official collator does."""

    def __init__(self, tok: Any, examples: list[Example], max_length: int) -> None:
        enc = tok([e.text for e in examples], truncation=True, max_length=max_length)
        self.ids, self.tok = enc["input_ids"], tok
        self.labels = [e.label for e in examples]

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, rows: list[int], device: str) -> tuple[torch.Tensor, torch.Tensor]:
        padded = self.tok.pad({"input_ids": [self.ids[i] for i in rows]}, return_tensors="pt")
        return padded["input_ids"].to(device), padded["attention_mask"].to(device)


def plan_for(spec: TaskSpec, ft: FinetuneConfig, kind: str) -> Plan:
    cuda = torch.cuda.is_available()
    return Plan(
        pooling=ft.pooling or ("final" if kind == "causal" else "first"),
        batch_size=ft.batch_size or spec.batch_size,
        epochs=ft.epochs or spec.epochs,
        device="cuda" if cuda else "cpu",
        autocast=ft.precision == "bf16" or (ft.precision == "auto" and cuda),
    )


@torch.inference_mode()
def predict(model: Any, data: Encoded, plan: Plan, batch_size: int) -> list[int]:
    """The argmax class of every row, in order, in batches of ``batch_size`` (file order)."""
    model.eval()
    out: list[torch.Tensor] = []
    for start in range(0, len(data), batch_size):
        ids, mask = data.batch(list(range(start, min(start + batch_size, len(data)))), plan.device)
        with torch.autocast(plan.device, dtype=torch.bfloat16, enabled=plan.autocast):
            out.append(model(ids, mask).argmax(-1))
    return torch.cat(out).tolist()


def finetune_task(
    model_dir: Path,
    task: str,
    train_file: Path,
    valid_file: Path,
    out_dir: Path,
    ft: FinetuneConfig,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune ``model_dir`` on one task; write into the task folder ``out_dir`` the best
    epoch's predictions on the validation file (the official ``predictions.json``) and
    ``results.json`` (its figures and settings, with ``extra``); return those figures and the
    predictions."""
    from babylm.model import load_model, load_tokenizer
    from babylm.runfolder import TaskFolder, atomic_write_text, write_json

    spec = TASKS[task]
    train_rows = read_examples(train_file, spec, "train")
    valid_rows = read_examples(valid_file, spec, "valid")
    seed_everything(ft.seed)
    body, kind = load_model(model_dir, body=True)
    plan = plan_for(spec, ft, kind)
    head = ClassifierHead(
        body.config.hidden_size,
        spec.num_labels,
        ft.classifier_dropout,
        ft.classifier_layer_norm_eps,
    )
    model = SequenceClassifier(body, head, plan.pooling).to(plan.device)
    tok = load_tokenizer(model_dir)
    tok.padding_side = padding_side(plan.pooling)
    train, valid = Encoded(tok, train_rows, ft.max_length), Encoded(tok, valid_rows, ft.max_length)
    order = DataLoader(
        range(len(train)), batch_size=plan.batch_size, shuffle=True, drop_last=True,
        collate_fn=list,
    )  # fmt: skip
    total = len(order) * plan.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=ft.lr, weight_decay=ft.weight_decay)
    warmup = int(ft.warmup_proportion * total)
    scheduler = cosine_with_warmup(optimizer, warmup, total, ft.min_factor)
    labels = torch.tensor(train.labels, device=plan.device)
    best: dict[str, Any] | None = None
    began = time.perf_counter()
    bar = tqdm(total=total, desc=task, disable=not progress, unit="step")
    for epoch in range(1, plan.epochs + 1):
        model.train()
        optimizer.zero_grad()
        for rows in order:  # a new order each epoch, drawn from the global generator
            ids, mask = train.batch(rows, plan.device)
            with torch.autocast(plan.device, dtype=torch.bfloat16, enabled=plan.autocast):
                logits = model(ids, mask)
            F.cross_entropy(logits.float(), labels[rows]).backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            bar.update()
        preds = predict(model, valid, plan, ft.valid_batch_size)
        figures = metrics(valid.labels, preds, spec.metrics)
        if best is None or figures[spec.metric_for_valid] > best["figures"][spec.metric_for_valid]:
            best = {"epoch": epoch, "figures": figures, "preds": preds}
        bar.set_postfix({spec.metric_for_valid: f"{figures[spec.metric_for_valid]:.4f}"})
    bar.close()
    assert best is not None
    rows = [{"id": f"{task}_{i}", "pred": int(p)} for i, p in enumerate(best["preds"])]
    folder = TaskFolder(out_dir)
    atomic_write_text(folder.predictions, json.dumps({task: {"predictions": rows}}))
    result = {
        "task": task,
        **best["figures"],
        "metric_for_valid": spec.metric_for_valid,
        "best_epoch": best["epoch"],
        "epochs": plan.epochs,
        "pooling": plan.pooling,
        "padding_side": padding_side(plan.pooling),
        "batch_size": plan.batch_size,
        "lr": ft.lr,
        "seed": ft.seed,
        "precision": "bf16" if plan.autocast else "fp32",
        "device": plan.device,
        "n_train": len(train),
        "n_valid": len(valid),
        "optimizer_steps": total,
        "seconds": round(time.perf_counter() - began, 1),
        "model": str(model_dir),
        **(extra or {}),
    }
    write_json(folder.results, result)
    return result | {"predictions": best["preds"]}
