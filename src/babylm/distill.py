"""Knowledge distillation from an ensemble of teachers (BabyLlama, Timiryasov & Tastet, 2023).

On a corpus this small, a student that learns from the full next-token distributions of
teachers trained on the same text gets far more signal per token than from the one observed
token. The student's training loss per token is

    alpha * CE(student, observed token) + (1 - alpha) * T^2 * KL(teacher_T || student_T)

where ``teacher_T`` is the softmax at temperature ``T`` of the teachers' averaged logits (the
BabyLlama ensemble) and ``student_T`` the student's. Padding and ignored positions (label
-100) count in neither term. The dev loss stays the student's plain cross-entropy, so it can be
compared with runs trained without teachers.

Teachers are other runs (their ``model/``) or model folders, loaded through safetensors, and
must share the student's tokenizer: the same corpus and tokenizer settings give the same one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

from babylm.errors import BabylmError
from babylm.model import load_model, load_tokenizer
from babylm.runfolder import model_folder


def teacher_folder(path: str | Path) -> Path:
    """A run folder's ``model/`` or a model folder itself."""
    try:
        return model_folder(Path(path))
    except BabylmError:
        raise BabylmError(
            f"train.distill_from: {path}: not a run folder with model/ nor a model"
        ) from None


def load_teachers(paths: list[str], tok: PreTrainedTokenizerBase) -> list[PreTrainedModel]:
    """The teachers, frozen and in eval mode (the Trainer moves them to its device); each
    checked to share ``tok``."""
    vocab = tok.get_vocab()
    teachers = []
    for path in paths:
        folder = teacher_folder(path)
        if load_tokenizer(folder).get_vocab() != vocab:
            raise BabylmError(
                f"train.distill_from: {folder}: the teacher's tokenizer differs from the"
                " student's; train the teacher with the same corpus and tokenizer settings"
            )
        model, _ = load_model(folder, kind="causal", needed_for="train.distill_from")
        model.config.use_cache = False
        model.requires_grad_(False)
        teachers.append(model.eval())
    return teachers


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: list[torch.Tensor],
    labels: torch.Tensor,
    alpha: float,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed (not averaged) loss, hard CE and soft KL over the positions that have a label.

    ``*_logits`` are (batch, length, vocab) for the same inputs; ``labels`` (batch, length)
    are unshifted, as the model takes them. Sums let the caller divide by the number of
    labelled tokens of the whole accumulated batch.
    """
    target = labels[:, 1:]
    keep = target != -100
    student = student_logits[:, :-1][keep].float()
    teacher = torch.stack([t[:, :-1][keep].float() for t in teacher_logits]).mean(0)
    hard = F.cross_entropy(student, target[keep], reduction="sum")
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=-1),
        F.log_softmax(teacher / temperature, dim=-1),
        log_target=True,
        reduction="sum",
    ) * (temperature**2)
    return alpha * hard + (1 - alpha) * soft, hard.detach(), soft.detach()


class DistillationTrainer(Trainer):
    """A Trainer whose training loss also pulls the student toward the teachers' ensemble."""

    loss_is_scaled_for_ga = True  # the loss below is divided by the accumulated token count

    def __init__(
        self,
        *args: Any,
        teachers: list[PreTrainedModel],
        alpha: float,
        temperature: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.teachers = [t.to(self.args.device) for t in teachers]
        self.alpha, self.temperature = alpha, temperature

    def compute_loss(  # type: ignore[override]
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        **kw: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        num_items_in_batch = kw.get("num_items_in_batch")  # the Trainer's count, when it has one
        if not model.training:  # dev loss: the student's own cross-entropy, comparable to others
            outputs = model(**inputs)
            return (outputs.loss, outputs) if return_outputs else outputs.loss
        labels = inputs["labels"]
        features = {k: v for k, v in inputs.items() if k != "labels"}
        outputs = model(**features)
        with torch.no_grad():
            teacher_logits = [t(**features).logits for t in self.teachers]
        loss, _, _ = distillation_loss(
            outputs.logits, teacher_logits, labels, self.alpha, self.temperature
        )
        if num_items_in_batch is None:
            loss = loss / (labels[:, 1:] != -100).sum()
        else:
            loss = loss / num_items_in_batch
            if self.args.average_tokens_across_devices:
                # The count is summed over processes and DDP averages the gradients: undo one
                # of the two divisions by the process count, as the Trainer's own loss does.
                loss = loss * self.accelerator.num_processes
        return (loss, outputs) if return_outputs else loss
