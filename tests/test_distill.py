"""BabyLlama distillation: the loss, and a student trained from a teacher run (and lr floor)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from babylm.distill import distillation_loss
from tests.conftest import SMOKE_FAST


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(2, 6, 11, generator=g)
    teacher = torch.randn(2, 6, 11, generator=g)
    labels = torch.randint(0, 11, (2, 6), generator=g)
    labels[0, 4:] = -100  # padding
    labels[1, 2] = -100  # an ignored <s>
    return student, teacher, labels


def test_alpha_one_is_the_models_own_cross_entropy() -> None:
    student, teacher, labels = _batch()
    loss, hard, soft = distillation_loss(student, [teacher], labels, 1.0, 2.0)
    n = (labels[:, 1:] != -100).sum()
    expected = F.cross_entropy(
        student[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(loss / n, expected)
    torch.testing.assert_close(hard, loss)
    assert soft > 0


def test_soft_term_vanishes_when_the_student_matches_the_teachers_ensemble() -> None:
    student, teacher, labels = _batch()
    # Two teachers whose mean logits equal the student's: the KL term is zero.
    pair = [student + teacher, student - teacher]
    _, _, soft = distillation_loss(student, pair, labels, 0.5, 2.0)
    assert abs(soft.item()) < 1e-4
    _, _, soft = distillation_loss(student, [teacher], labels, 0.5, 2.0)
    assert soft.item() > 0.1


def test_unlabelled_positions_do_not_count() -> None:
    student, teacher, labels = _batch()
    loss, _, _ = distillation_loss(student, [teacher], labels, 0.5, 2.0)
    changed = teacher.clone()
    changed[0, 3:] += 5.0  # position 3 predicts label 4 (-100); 4 and 5 are padding
    changed[1, 1] -= 3.0  # predicts the ignored label at 2
    again, _, _ = distillation_loss(student, [changed], labels, 0.5, 2.0)
    torch.testing.assert_close(loss, again)


def test_a_student_trains_from_a_teacher_run(
    cli, smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    teacher_dir, _ = smoke_run
    student_dir = tmp_path / "student"
    args = ["train", "smoke", "--run-dir", str(student_dir), *SMOKE_FAST]
    sets = ["--set", f"train.distill_from={teacher_dir}", "--set", "train.distill_alpha=0.3"]
    sets += ["--set", "train.min_lr_ratio=0.1"]  # and a cosine schedule with a floor
    result = cli("run", "smoke", "--run-dir", str(student_dir), "--stages", "corpus,tokenizer")
    assert result.code == 0, result.err
    result = cli(*args, *sets)
    assert result.code == 0, result.err
    summary = json.loads((student_dir / "train" / "summary.json").read_text())
    assert summary["optimizer_steps"] == 12
    rows = [json.loads(line) for line in (student_dir / "train" / "metrics.jsonl").open()]
    losses = [r["loss"] for r in rows if "loss" in r]
    dev = [r["eval_loss"] for r in rows if "eval_loss" in r]
    assert losses and dev and all(math.isfinite(x) for x in losses + dev)  # finite, logged
    lrs = [r["learning_rate"] for r in rows if "learning_rate" in r]
    assert min(lrs[2:]) >= 0.1 * 1e-3 - 1e-9 and lrs[-1] < 0.2 * 1e-3  # smoke's lr is 1e-3
    assert (student_dir / "model" / "model.safetensors").is_file()
    assert cli("export", str(student_dir)).code == 0
    card = (student_dir / "model" / "README.md").read_text()
    assert "cosine to 0.1 x lr" in card
    assert f"from 1 teacher(s) (`{teacher_dir.name}`): 0.3 x cross-entropy + 0.7 x KL" in card


def test_a_teacher_with_another_tokenizer_is_refused(
    cli, smoke_run: tuple[Path, str], tmp_path: Path
) -> None:
    teacher_dir = tmp_path / "teacher"
    shutil.copytree(smoke_run[0], teacher_dir, ignore=shutil.ignore_patterns("checkpoints"))
    student_dir = tmp_path / "student"
    common = ["--run-dir", str(student_dir), "--set", "tokenizer.vocab_size=900", *SMOKE_FAST]
    assert cli("run", "smoke", *common, "--stages", "corpus,tokenizer").code == 0
    result = cli("train", "smoke", *common, "--set", f"train.distill_from={teacher_dir}")
    assert result.code == 2
    assert "tokenizer differs" in result.err and str(teacher_dir) in result.err
    assert not (student_dir / "model").exists()


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("train.distill_alpha=1.5", "train.distill_alpha"),
        ("train.min_lr_ratio=1", "train.min_lr_ratio"),
    ],
)
def test_bad_distillation_settings_name_the_field(cli, setting: str, field: str) -> None:
    result = cli("model-info", "smoke", "--set", setting)
    assert result.code == 2 and field in result.err
