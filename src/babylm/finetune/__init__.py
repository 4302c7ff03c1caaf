"""(Super)GLUE fine-tuning as the official BabyLM pipeline does it, with its predictions.

``tasks``       the tasks' fields, templates and official defaults; reading task files
``classifier``  the official head on a pretrained body, first- or final-token pooling
``loop``        ``finetune_task``: one task, exactly the official training and selection
``run``         ``finetune``: every task of a run or model folder, resumable by task
"""

from babylm.finetune.loop import finetune_task
from babylm.finetune.run import finetune
from babylm.finetune.tasks import TASKS

__all__ = ["TASKS", "finetune", "finetune_task"]
