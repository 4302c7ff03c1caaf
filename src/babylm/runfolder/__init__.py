"""The run folder: what it holds, how it is written, and reading it back. One room per part:

``layout``    where everything is: ``RunFolder`` (a run's paths), ``EvalFolder`` (one
              evaluation's files), ``RunFiles`` (a run's results in a run folder, an eval
              folder or a copy in ``results/<run>/``), the eval-folder naming
``manifest``  stage manifests: fingerprints, freshness across upgrades
``files``     the write disciplines: atomic writes, staged folders, the one-writer lock
``summary``   the typed train summary (``train/summary.json``)

No other module spells a run-folder path or a summary key (a test scans the source).
"""

from babylm.runfolder.files import (
    atomic_write_bytes,
    atomic_write_text,
    process_rank,
    read_json,
    sha256_bytes,
    sha256_file,
    staged_output,
    write_json,
    writer_lock,
)
from babylm.runfolder.layout import (
    COLLECTED,
    STAGES,
    CheckpointEvals,
    EvalFolder,
    FinetuneFolder,
    RunFiles,
    RunFolder,
    TaskFolder,
    evaluation_label,
    learning_curve_file,
    model_eval_folder,
    model_finetune_folder,
    model_folder,
    run_of,
)
from babylm.runfolder.manifest import (
    MANIFEST,
    fingerprint,
    is_fresh,
    manifest_header,
    read_manifest,
)
from babylm.runfolder.summary import TrainSummary, read_summary, write_summary

__all__ = [
    "COLLECTED",
    "MANIFEST",
    "STAGES",
    "CheckpointEvals",
    "EvalFolder",
    "FinetuneFolder",
    "RunFiles",
    "RunFolder",
    "TaskFolder",
    "TrainSummary",
    "atomic_write_bytes",
    "atomic_write_text",
    "evaluation_label",
    "fingerprint",
    "is_fresh",
    "learning_curve_file",
    "manifest_header",
    "model_eval_folder",
    "model_finetune_folder",
    "model_folder",
    "process_rank",
    "read_json",
    "read_manifest",
    "read_summary",
    "run_of",
    "sha256_bytes",
    "sha256_file",
    "staged_output",
    "write_json",
    "write_summary",
    "writer_lock",
]
