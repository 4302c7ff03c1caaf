"""The (Super)GLUE tasks as the official BabyLM fine-tuning reads them: fields, templates,
labels, and the official defaults of batch size, epochs and metrics.

A task file is JSONL (``glue_filtered/<task>.{train,valid}.jsonl``): one object per line with
the task's text fields and an integer ``label``. Text A (and text B, for pair tasks) is built
exactly as the official ``dataset.py`` builds it: the fields joined by spaces, or put into the
task's template. A bad file stops with one line naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babylm.errors import BabylmError
from babylm.evaluation.tasks import jsonl_objects


@dataclass(frozen=True)
class TaskSpec:
    name: str
    a_fields: tuple[str, ...]
    b_fields: tuple[str, ...] = ()
    a_template: str | None = None
    num_labels: int = 2
    batch_size: int = 32
    epochs: int = 10
    metrics: tuple[str, ...] = ("accuracy", "f1", "mcc")
    metric_for_valid: str = "accuracy"

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.a_fields, *self.b_fields)


TASKS = {
    t.name: t
    for t in (
        TaskSpec("boolq", ("question",), ("passage",), batch_size=16),
        TaskSpec(
            "multirc",
            ("question", "answer"),
            ("paragraph",),
            "Question: {} Answer: {}",
            batch_size=16,
        ),
        TaskSpec("rte", ("sentence1",), ("sentence2",)),
        TaskSpec(
            "wsc",
            ("span2_text", "span1_text"),
            ("text",),
            'Does "{}" refer to "{}" in this passage?',
            epochs=30,
        ),
        TaskSpec("mrpc", ("sentence1",), ("sentence2",), metric_for_valid="f1"),
        TaskSpec("qqp", ("question1",), ("question2",), metric_for_valid="f1"),
        TaskSpec("mnli", ("premise",), ("hypothesis",), num_labels=3, metrics=("accuracy",)),
        TaskSpec("cola", ("sentence",)),
        TaskSpec("sst2", ("sentence",)),
        TaskSpec("qnli", ("question",), ("sentence",)),
    )
}


@dataclass(frozen=True)
class Example:
    text: str | tuple[str, str]
    """Text A, or (text A, text B) for a pair task: what the tokenizer is given."""
    label: int


def _join(values: list[str], template: str | None) -> str:
    return template.format(*values) if template is not None else " ".join(values)


def read_examples(path: Path, spec: TaskSpec, split: str) -> list[Example]:
    """Every example of a task file, in file order; a bad file stops with file:line."""
    if not path.is_file():
        raise BabylmError(f"{path}: no such file ({spec.name} {split} split)")
    examples = []
    for number, row in jsonl_objects(path.read_bytes(), str(path)):
        for key in (*spec.fields, "label"):
            if key not in row:
                raise BabylmError(f"{path}:{number}: no {key!r} field ({spec.name})")
        for key in spec.fields:
            if not isinstance(row[key], str):
                raise BabylmError(f"{path}:{number}: {key!r} is not a string")
        label = row["label"]
        integer = isinstance(label, int) and not isinstance(label, bool)
        if not integer or not 0 <= label < spec.num_labels:
            allowed = ", ".join(map(str, range(spec.num_labels)))
            raise BabylmError(f"{path}:{number}: label {label!r} is not one of {allowed}")
        a = _join([row[k] for k in spec.a_fields], spec.a_template)
        b = _join([row[k] for k in spec.b_fields], None) if spec.b_fields else None
        examples.append(Example(a if b is None else (a, b), label))
    if not examples:
        raise BabylmError(f"{path}: no examples ({spec.name} {split} split)")
    return examples


def task_files(data_dir: Path, task: str) -> tuple[Path, Path]:
    """The official files of a task under ``full_eval``: ``glue_filtered/<task>.<split>.jsonl``."""
    folder = data_dir / "glue_filtered"
    return folder / f"{task}.train.jsonl", folder / f"{task}.valid.jsonl"
