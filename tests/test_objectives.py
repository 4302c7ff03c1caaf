"""The hybrid causal + masked next-token objective, input corruption and z-loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM

from babylm.config import load_config
from babylm.errors import BabylmError
from babylm.model import llama_config
from babylm.objectives import LINE_ATTENTION, ObjectiveCollator, attention_mask_4d

PAD, BOS, EOS, MASK, VOCAB = 0, 1, 2, 3, 50
HYBRID = [
    "train.objective=hybrid",
    "train.packing=isolated",
    "tokenizer.mask_token=true",
]


def _line(length: int, start: int) -> list[int]:
    return [BOS, *range(start, start + length), EOS]


def _example(*lines: list[int]) -> dict[str, list[int]]:
    ids = [t for line in lines for t in line]
    pos = [p for line in lines for p in range(len(line))]
    return {"input_ids": ids, "position_ids": pos}


@pytest.fixture(scope="module")
def model() -> LlamaForCausalLM:
    cfg = load_config("smoke").model
    torch.manual_seed(0)
    return LlamaForCausalLM(llama_config(cfg, VOCAB, BOS, EOS, PAD)).eval()


def _logits(model: LlamaForCausalLM, ids: torch.Tensor, pos: torch.Tensor, bidi: bool):
    mask = attention_mask_4d(pos, torch.tensor([bidi] * len(ids)))
    with torch.no_grad():
        return model(input_ids=ids, position_ids=pos, attention_mask=mask).logits


def test_mntp_rows_see_their_whole_line_and_no_other_causal_rows_no_later_token(
    model: LlamaForCausalLM,
) -> None:
    example = _example(_line(5, 10), _line(6, 20))  # two lines in one row: 7 + 8 tokens
    ids = torch.tensor([example["input_ids"]])
    pos = torch.tensor([example["position_ids"]])
    later_in_line = ids.clone()
    later_in_line[0, 5] = 40  # a token of the first line, after position 2
    other_line = ids.clone()
    other_line[0, 10] = 41  # a token of the second line

    for bidi in (True, False):
        base = _logits(model, ids, pos, bidi)
        changed = _logits(model, later_in_line, pos, bidi)
        moved = (base[0, 2] - changed[0, 2]).abs().max().item()
        if bidi:
            assert moved > 1e-4  # the MNTP row's position 2 sees position 5 of its line
        else:
            assert moved == 0.0  # the causal row's position 2 never does
        # no position of the first line ever sees the second line, in either kind of row
        across = _logits(model, other_line, pos, bidi)
        assert torch.equal(base[0, :7], across[0, :7])


def _collator(**kwargs) -> ObjectiveCollator:
    return ObjectiveCollator(
        pad_token_id=PAD,
        bos_token_id=BOS,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_ids=[PAD, BOS, EOS, MASK],
        **kwargs,
    )


def test_labels_are_the_hidden_tokens_in_mntp_rows_and_every_token_in_causal_rows() -> None:
    torch.manual_seed(1)
    features = [_example(_line(8, 10 + 3 * i), _line(5, 30)) for i in range(8)]
    batch = _collator(mntp_share=0.25, mask_rate=0.3)(features)
    ids, labels = batch["input_ids"], batch["labels"]
    original = torch.tensor([f["input_ids"] for f in features])
    pos = torch.tensor([f["position_ids"] for f in features])
    assert batch[LINE_ATTENTION].shape == (8, 1, 17, 17)

    # Causal rows (the last 6): every token labelled except <s>, inputs untouched.
    causal = slice(2, 8)
    assert torch.equal(ids[causal], original[causal])
    assert torch.equal(labels[causal], torch.where(original[causal] == BOS, -100, original[causal]))

    # MNTP rows (the first 2): labels exactly where a token was hidden, never a line's start.
    mntp = labels[:2]
    hidden = mntp != -100
    assert 0 < hidden.sum() < (pos[:2] > 0).sum()
    assert not (hidden & (pos[:2] == 0)).any()
    assert torch.equal(mntp[hidden], original[:2][hidden])  # the label is the true token
    assert torch.equal(ids[:2][~hidden], original[:2][~hidden])  # nothing else is touched
    assert (ids[:2][hidden] == MASK).float().mean() > 0.5  # most hidden tokens are <mask>
    assert (batch[LINE_ATTENTION][:2, 0, 0, 1]).all()  # MNTP: <s> sees the next token
    assert not (batch[LINE_ATTENTION][2:, 0, 0, 1]).any()  # causal: it does not


def test_the_loss_counts_exactly_the_hidden_and_the_causal_positions(
    model: LlamaForCausalLM,
) -> None:
    torch.manual_seed(2)
    features = [_example(_line(9, 10 + i)) for i in range(4)]
    batch = _collator(mntp_share=0.5, mask_rate=1.0)(features)  # every token hidden in MNTP
    ids, labels, pos = batch["input_ids"], batch["labels"], batch["position_ids"]
    # mask_rate 1: MNTP rows label every token after <s>; causal rows every token after <s>
    assert torch.equal(labels != -100, pos > 0)
    out = model(
        input_ids=ids, position_ids=pos, attention_mask=batch[LINE_ATTENTION], labels=labels
    )
    logits = out.logits[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    expected = F.cross_entropy(logits[keep], target[keep])
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert int(keep.sum()) == 4 * 10  # 9 tokens + </s> per line, nothing else


def test_corruption_changes_causal_inputs_only_and_keeps_their_labels() -> None:
    torch.manual_seed(3)
    features = [_example(_line(30, 5)) for _ in range(4)]
    batch = _collator(corrupt_rate=0.5)(features)
    original = torch.tensor([f["input_ids"] for f in features])
    changed = batch["input_ids"] != original
    assert 0.2 < changed[:, 1:-1].float().mean() < 0.8
    assert not changed[:, 0].any() and not changed[:, -1].any()  # <s> and </s> stay
    assert not torch.isin(batch["input_ids"][changed], torch.tensor([PAD, BOS, EOS, MASK])).any()
    assert torch.equal(batch["labels"][:, 1:], original[:, 1:])


def test_share_weighting_is_gpt_berts_mix_of_the_two_means(
    model: LlamaForCausalLM, tmp_path: Path
) -> None:
    """train.mntp_loss: share weighs each objective's mean by its share of rows, and the
    Trainer sees one loss per batch whether or not it accumulates gradients."""
    from transformers import TrainingArguments

    from babylm.objectives import MNTP_ROWS, ObjectiveTrainer

    torch.manual_seed(4)
    features = [_example(_line(12, 10 + i), _line(5, 30)) for i in range(4)]
    batch = _collator(mntp_share=0.25, mask_rate=0.3)(features)
    assert batch[MNTP_ROWS].tolist() == [True, False, False, False]
    with torch.no_grad():
        logits = model(
            input_ids=batch["input_ids"],
            position_ids=batch["position_ids"],
            attention_mask=batch[LINE_ATTENTION],
        ).logits[:, :-1]
    target = batch["labels"][:, 1:]
    means = []
    for rows in (slice(0, 1), slice(1, 4)):
        keep = target[rows] != -100
        means.append(F.cross_entropy(logits[rows][keep], target[rows][keep]).item())
    mntp_labels = int((target[:1] != -100).sum())
    assert 0 < mntp_labels / int((target != -100).sum()) < 0.25 / 2  # pooled, MNTP weighs less

    losses = {}
    for accumulate in (1, 2):
        args = TrainingArguments(
            output_dir=str(tmp_path), use_cpu=True, report_to="none",
            gradient_accumulation_steps=accumulate,
        )  # fmt: skip
        for weight in (None, 0.25):
            trainer = ObjectiveTrainer(model=model, args=args, mntp_weight=weight)
            trainer.current_gradient_accumulation_steps = accumulate
            count = torch.tensor(int((target != -100).sum()) * accumulate)
            model.train()  # dropout is 0 in smoke: the same logits as above
            step = trainer.training_step(model, dict(batch), num_items_in_batch=count)
            losses[accumulate, weight] = step.item() * accumulate
    model.eval()
    model.zero_grad(set_to_none=True)
    share = 0.25 * means[0] + 0.75 * means[1]
    assert losses[1, 0.25] == pytest.approx(share, rel=1e-4)
    assert losses[2, 0.25] == pytest.approx(share, rel=1e-4)  # scaled once for accumulation
    pooled = F.cross_entropy(logits[target != -100], target[target != -100]).item()
    assert losses[1, None] == pytest.approx(pooled, rel=1e-4)
    assert abs(share - pooled) > 1e-3

    z_means = []
    for rows in (slice(0, 1), slice(1, 4)):
        keep = target[rows] != -100
        z_means.append(torch.logsumexp(logits[rows][keep], -1).pow(2).mean().item())
    z_trainer = ObjectiveTrainer(model=model, args=args, mntp_weight=0.25, z_loss=0.5)
    model.train()
    with_z = z_trainer.compute_loss(model, dict(batch)).item()  # no num_items: not scaled
    z_share = 0.25 * z_means[0] + 0.75 * z_means[1]  # the z-term is weighted like the loss
    assert with_z - share == pytest.approx(0.5 * z_share, rel=1e-3)

    trainer = ObjectiveTrainer(model=model, args=args, mntp_weight=0.25)
    model.train()
    trainer.compute_loss(model, dict(batch))
    trainer.compute_loss(model, dict(batch))
    model.eval()
    trainer.log({"loss": share})  # the training log carries both objectives' means
    logged = trainer.state.log_history[-1]
    assert logged["mntp_loss"] == pytest.approx(means[0], rel=1e-4)
    assert logged["causal_loss"] == pytest.approx(means[1], rel=1e-4)
    trainer.log({"eval_loss": 1.0})
    assert "mntp_loss" not in trainer.state.log_history[-1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.objective=hybrid", "train.packing=isolated"], "tokenizer.mask_token"),
        (["train.objective=hybrid", "tokenizer.mask_token=true"], "isolated"),
        (["train.objective=bert"], "train.objective"),
        ([*HYBRID, "train.mntp_share=1.0"], "mntp_share"),
        (["train.corrupt_rate=1.5"], "train.corrupt_rate"),
        (["tokenizer.model=wordpiece"], "tokenizer.model"),
        (["train.z_loss=-1"], "train.z_loss"),
        ([*HYBRID, "train.mntp_loss=tokens"], "train.mntp_loss"),
    ],
)
def test_bad_objective_settings_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(BabylmError, match=message):
        load_config("smoke", overrides)


def test_z_loss_is_added_to_the_training_loss(model: LlamaForCausalLM, tmp_path: Path) -> None:
    from transformers import TrainingArguments

    from babylm.objectives import ObjectiveTrainer

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    batch = _collator()([_example(_line(6, 10))])
    losses = {}
    for weight in (0.0, 0.5):
        trainer = ObjectiveTrainer(model=model, args=args, z_loss=weight)
        model.train()  # the z-loss is a training term only (dropout is 0 in smoke)
        losses[weight] = trainer.compute_loss(model, dict(batch)).item()
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
    z = torch.logsumexp(logits[0, :-1], -1).pow(2).mean().item()
    assert losses[0.5] - losses[0.0] == pytest.approx(0.5 * z, rel=1e-3)


def test_a_hybrid_run_trains_and_resumes_after_sigkill(tmp_path: Path, kill_when) -> None:
    run_dir = tmp_path / "hybrid"
    sets = [*HYBRID, "train.mntp_loss=share", "train.max_steps=80", "train.eval_steps=20"]
    sets += ["train.save_total_limit=5"]
    args = [sys.executable, "-m", "babylm", "run", "smoke", "--run-dir", str(run_dir)]
    args += ["--stages", "corpus,tokenizer,train"]
    for item in sets:
        args += ["--set", item]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    kill_when(args, run_dir / "checkpoints" / "checkpoint-40" / "trainer_state.json")
    assert not (run_dir / "train" / "summary.json").exists()

    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "train: resuming from" in resumed.stdout
    summary = json.loads((run_dir / "train" / "summary.json").read_text())
    assert summary["optimizer_steps"] == 80 and summary["resumed_from_step"] >= 40
    lines = (run_dir / "train" / "metrics.jsonl").read_text().splitlines()
    steps = [r["step"] for r in map(json.loads, lines) if "loss" in r]
    assert steps == list(range(1, 81))
    tokenizer = json.loads((run_dir / "tokenizer" / "manifest.json").read_text())
    assert tokenizer["special_tokens"]["mask"] == {"token": "<mask>", "id": 3}
    assert summary["best_dev_loss"] < 7.0


@pytest.mark.parametrize("decay_norms", [False, True])
def test_decay_norms_puts_the_norm_gains_under_weight_decay(
    model: LlamaForCausalLM, tmp_path: Path, decay_norms: bool
) -> None:
    from transformers import TrainingArguments

    from babylm.objectives import ObjectiveTrainer

    args = TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none", weight_decay=0.1
    )
    trainer = ObjectiveTrainer(model=model, args=args, decay_norms=decay_norms)
    optimizer = trainer.create_optimizer()
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    norms = [p for n, p in model.named_parameters() if "norm" in n]
    assert norms and all((id(p) in decayed) == decay_norms for p in norms)
    assert id(model.model.embed_tokens.weight) in decayed
