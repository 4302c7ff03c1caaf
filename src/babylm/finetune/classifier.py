"""The official BabyLM classifier: a pretrained transformer body, one pooled vector, and the
head LayerNorm -> Linear -> GELU -> LayerNorm -> Dropout -> Linear.

Pooling ``first`` reads position 0 (with right padding, as the official default); ``final``
reads the last position with left padding, i.e. the last real token (the official
``--take_final --padding_side left``). A causal model's position 0 has seen only the first
token, so ``first`` gives a decoder almost nothing to classify with.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ClassifierHead(nn.Sequential):
    """The official head; built in the same order, so the same seed gives the same weights."""

    def __init__(self, hidden: int, num_labels: int, dropout: float, eps: float) -> None:
        super().__init__(
            nn.LayerNorm(hidden, eps, elementwise_affine=False),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden, eps, elementwise_affine=False),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_labels),
        )


class SequenceClassifier(nn.Module):
    """Body, pooling and head; ``forward`` returns the class logits."""

    def __init__(self, body: Any, head: ClassifierHead, pooling: str) -> None:
        super().__init__()
        self.transformer, self.classifier, self.pooling = body, head, pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
        states = hidden.last_hidden_state
        pooled = states[:, -1] if self.pooling == "final" else states[:, 0]
        return self.classifier(pooled)


def padding_side(pooling: str) -> str:
    """Where the tokenizer pads, so that the pooled position is the one ``pooling`` means."""
    return "left" if pooling == "final" else "right"
