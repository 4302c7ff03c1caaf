"""Training objectives beyond plain next-token prediction, for ``isolated`` lines.

* **Hybrid** (``train.objective: hybrid``): GPT-BERT's mix (Charpentier & Samuel, 2024). A
  share of the rows of every batch (``train.mntp_share``) are *masked next-token prediction*
  (MNTP) rows: ``train.mask_rate`` of their tokens are hidden (80% become ``<mask>``, 10% a
  random token, 10% stay), each line attends to the whole of itself (bidirectionally) and to
  no other line, and the model predicts each hidden token at the position *before* it, so
  both objectives share one output alignment and one head. The other rows are ordinary causal
  rows. The model is still a ``LlamaForCausalLM`` and is scored causally.
  How the two losses combine (``train.mntp_loss``): ``share`` is GPT-BERT's, each objective's
  mean over its own labelled tokens, weighted by its share of the rows
  (``mntp_share * mntp_mean + (1 - mntp_share) * causal_mean``). ``pooled`` (the default,
  the behaviour before the option existed) is one mean over every labelled token, where the
  MNTP rows, with only ``mask_rate`` of their tokens labelled, weigh far less than their
  share of rows: about 2% of the loss at 1 row in 8 and 15% hidden.
* **Input corruption** (``train.corrupt_rate``): causal rows see that share of their input
  tokens replaced by random ones while their labels stay the true text: a denoising
  regulariser for the causal objective.
* **z-loss** (``train.z_loss``): ``z_loss * logsumexp(logits)^2`` per labelled position (PaLM),
  which keeps the output normaliser near zero.
* **Decay on norms** (``train.decay_norms``): weight decay on every weight, RMSNorm gains
  included, instead of the Trainer's default that spares them.

The per-row attention is an explicit 4-D boolean mask (True: may attend), built from the
restarting ``position_ids`` of ``isolated`` packing: a line never sees another line, padding
is its own line. Dev loss is always the plain causal loss of uncorrupted rows, so it compares
with runs trained without these options.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer

from babylm.packing import IsolatedCollator

MNTP_ROWS = "mntp_rows"
"""The batch key of the per-row flags (True: an MNTP row) that ``share`` weighting needs."""
LINE_ATTENTION = "line_attention"
"""The batch key of the 4-D mask. Not ``attention_mask``: the Trainer would count its entries
as tokens seen; :class:`ObjectiveTrainer` hands it to the model as the attention mask."""


def segments(position_ids: torch.Tensor) -> torch.Tensor:
    """Line number of every position (rows of ``isolated`` positions restart at each line)."""
    return torch.cumsum((position_ids == 0).long(), dim=-1)


def attention_mask_4d(position_ids: torch.Tensor, bidirectional: torch.Tensor) -> torch.Tensor:
    """(batch, 1, len, len) booleans: same line, and causal unless the row is bidirectional."""
    seg = segments(position_ids)
    same_line = seg[:, :, None] == seg[:, None, :]
    width = position_ids.shape[-1]
    causal = torch.ones(width, width, dtype=torch.bool, device=position_ids.device).tril()
    allowed = same_line & (causal | bidirectional[:, None, None])
    return allowed[:, None]


class ObjectiveCollator:
    """Batches ``isolated`` examples for the hybrid objective and input corruption.

    The first ``round(mntp_share * rows)`` rows of a batch are MNTP rows (the data are
    shuffled, so which rows is arbitrary); the rest are causal. Randomness comes from torch's
    global generator, which the Trainer seeds and restores on resume.
    """

    def __init__(
        self,
        pad_token_id: int,
        bos_token_id: int,
        mask_token_id: int | None,
        vocab_size: int,
        special_ids: list[int],
        mntp_share: float = 0.0,
        mask_rate: float = 0.15,
        corrupt_rate: float = 0.0,
    ) -> None:
        if mntp_share > 0 and mask_token_id is None:
            raise ValueError("the hybrid objective needs a mask token")
        self.causal = IsolatedCollator(pad_token_id, bos_token_id)
        self.mask_token_id = mask_token_id
        self.mntp_share, self.mask_rate, self.corrupt_rate = mntp_share, mask_rate, corrupt_rate
        ordinary = torch.ones(vocab_size, dtype=torch.bool)
        ordinary[torch.as_tensor(special_ids, dtype=torch.long)] = False
        self.ordinary_ids = ordinary.nonzero().squeeze(-1)
        """Ids a random replacement may take: never a special token."""

    def _random_tokens(self, count: int) -> torch.Tensor:
        return self.ordinary_ids[torch.randint(len(self.ordinary_ids), (count,))]

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.causal(features)
        ids, pos, labels = batch["input_ids"], batch["position_ids"], batch["labels"]
        real = labels != -100  # tokens of lines, not <s> and not padding
        n_mntp = round(self.mntp_share * len(features))
        mntp_rows = torch.zeros(len(features), dtype=torch.bool)
        mntp_rows[:n_mntp] = True

        # MNTP rows: hide tokens, except a line's first (its label would come from another line)
        hide = real & (pos > 0) & (torch.rand(ids.shape) < self.mask_rate) & mntp_rows[:, None]
        new_labels = torch.where(mntp_rows[:, None], torch.full_like(labels, -100), labels)
        new_labels[hide] = ids[hide]
        how = torch.rand(ids.shape)
        to_mask = hide & (how < 0.8)
        to_random = hide & (how >= 0.8) & (how < 0.9)
        ids = ids.clone()
        ids[to_mask] = self.mask_token_id if self.mask_token_id is not None else 0
        ids[to_random] = self._random_tokens(int(to_random.sum()))

        # causal rows: corrupt some inputs, keep the true labels
        if self.corrupt_rate > 0:
            ordinary = torch.isin(ids, self.ordinary_ids)  # </s> stays: it ends the line
            corrupt = ordinary & ~mntp_rows[:, None] & (torch.rand(ids.shape) < self.corrupt_rate)
            ids[corrupt] = self._random_tokens(int(corrupt.sum()))

        return {
            "input_ids": ids,
            "position_ids": pos,
            "labels": new_labels,
            LINE_ATTENTION: attention_mask_4d(pos, mntp_rows),
            MNTP_ROWS: mntp_rows,
        }


def share_weighted_loss(
    logits: torch.Tensor, labels: torch.Tensor, mntp_rows: torch.Tensor, mntp_weight: float
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """GPT-BERT's hybrid loss of one batch, its z-term weighted the same way, and the two
    means (``mntp_loss``, ``causal_loss``) for the training log.

    Each objective's mean cross-entropy over its own labelled (shifted) positions, the MNTP
    mean weighted by ``mntp_weight`` and the causal one by the rest; a batch without labels
    of one kind gives the other its whole weight. The z-term is ``logsumexp(logits)^2``,
    averaged alike.
    """
    target = labels[:, 1:]
    keep = target != -100
    picked = logits[:, :-1][keep].float()  # (labelled positions, vocabulary)
    log_z = torch.logsumexp(picked, dim=-1)  # one normaliser for the loss and the z-term
    per_token = log_z - picked.gather(-1, target[keep][:, None]).squeeze(-1)
    is_mntp = mntp_rows[:, None].expand_as(keep)[keep]
    loss = z = log_z.new_zeros(())
    total, means = 0.0, {}
    kinds = (("mntp_loss", is_mntp, mntp_weight), ("causal_loss", ~is_mntp, 1 - mntp_weight))
    for name, chosen, weight in kinds:
        if chosen.any():
            mean = per_token[chosen].mean()
            loss = loss + weight * mean
            z = z + weight * log_z[chosen].pow(2).mean()
            total += weight
            means[name] = mean.item()
    return loss / total, z / total, means


class ObjectiveTrainer(Trainer):
    """The Trainer with a plain causal collator for the dev loss, GPT-BERT's loss weighting
    for the hybrid objective (``train.mntp_loss: share``), optional z-loss and decay on norms
    (``train.z_loss``, ``train.decay_norms``)."""

    def __init__(
        self,
        *args: Any,
        eval_collator: Any = None,
        z_loss: float = 0.0,
        decay_norms: bool = False,
        mntp_weight: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.eval_collator = eval_collator
        self.z_loss, self.decay_norms = z_loss, decay_norms
        self.mntp_weight = mntp_weight
        """None: one mean over all labelled tokens (``pooled``); else the MNTP loss's weight."""
        self._means: dict[str, list[float]] = {}
        """The two objectives' batch means since the last log (``share`` weighting)."""

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        """Training logs also carry each objective's mean loss since the last log."""
        if "loss" in logs and self._means:
            logs.update({k: sum(v) / len(v) for k, v in self._means.items()})
            self._means = {}
        super().log(logs, *args, **kwargs)

    def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
        if self.eval_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        train_collator, self.data_collator = self.data_collator, self.eval_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = train_collator

    def get_decay_parameter_names(self, model: Any) -> list[str]:
        if self.decay_norms:
            return [name for name, _ in model.named_parameters()]
        return super().get_decay_parameter_names(model)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        inputs = dict(inputs)
        if LINE_ATTENTION in inputs:
            inputs["attention_mask"] = inputs.pop(LINE_ATTENTION)
        mntp_rows = inputs.pop(MNTP_ROWS, None)
        if self.mntp_weight is not None and mntp_rows is not None and model.training:
            return self._share_weighted(
                model, inputs, mntp_rows, return_outputs, num_items_in_batch
            )
        loss, outputs = super().compute_loss(
            model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        if self.z_loss and model.training:
            keep = inputs["labels"][:, 1:] != -100
            z = torch.logsumexp(outputs.logits[:, :-1][keep].float(), dim=-1).pow(2).sum()
            count = num_items_in_batch if num_items_in_batch is not None else keep.sum()
            z = self.z_loss * z / count
            if num_items_in_batch is not None and self.args.average_tokens_across_devices:
                z = z * self.accelerator.num_processes
            loss = loss + z
        return (loss, outputs) if return_outputs else loss

    def _share_weighted(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        mntp_rows: torch.Tensor,
        return_outputs: bool,
        num_items_in_batch: torch.Tensor | int | None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """``share`` weighting: per-batch means, so scaled here for gradient accumulation
        whenever the Trainer expects a loss already normalised over the accumulated batch
        (it does when the model takes ``num_items_in_batch``). Under DDP each process's means
        are averaged with the gradients, as GPT-BERT's are."""
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss, z, means = share_weighted_loss(
            outputs.logits, labels, mntp_rows.to(labels.device), float(self.mntp_weight)
        )
        for name, value in means.items():
            self._means.setdefault(name, []).append(value)
        if self.z_loss:
            loss = loss + self.z_loss * z
        scaled = getattr(self, "loss_is_scaled_for_ga", None)  # transformers >= 5
        if scaled is None:
            scaled = self.model_accepts_loss_kwargs and num_items_in_batch is not None
        if scaled:
            steps = getattr(self, "current_gradient_accumulation_steps", None)
            loss = loss / (steps or self.args.gradient_accumulation_steps)
        return (loss, outputs) if return_outputs else loss
