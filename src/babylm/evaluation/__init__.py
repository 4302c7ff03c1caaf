"""Evaluation: the task sets, the scorers, the aggregation, and the one path that runs them.

``tasks``      which pairs: BLiMP, the supplement, user folders (``select_pairs``)
``scoring``    log-probabilities: the prefix-tree and plain causal scorers, masked-LM PLL
``prefix_tree`` the prefix-tree layout the tree scorer runs on
``aggregate``  the tie rule, accuracies per paradigm, term and field, Wilson intervals
``run``        ``evaluate`` (the one path: a selection to written results, for the eval
               stage and ``babylm eval`` alike), ``evaluate_target`` (``babylm eval``: the
               run's stage, or another selection beside it), ``score_pairs`` (nothing written)
``results``    what an evaluation wrote: printed, read back, recorded in a manifest
``suite_tasks`` the BabyLM 2025 zero-shot tasks, read as the official pipeline reads them
``suite``      their official protocol and figures, through the prefix-tree scorer
``submission`` the challenge's submission file and word-budget checkpoints' fast evals
               (``babylm submission``, ``babylm eval RUN --checkpoints``)
"""

from babylm.evaluation.aggregate import aggregate, format_table, pair_credit, wilson_interval
from babylm.evaluation.results import print_results, read_results, result_summary, run_extra
from babylm.evaluation.run import (
    Scored,
    evaluate,
    evaluate_suite,
    score_pairs,
    write_results,
)
from babylm.evaluation.suite_tasks import select_suite
from babylm.evaluation.tasks import (
    Pair,
    blimp_pairs,
    folder_pairs,
    select_pairs,
    supplement_pairs,
    write_lm_eval_tasks,
)

__all__ = [
    "Pair",
    "Scored",
    "aggregate",
    "blimp_pairs",
    "evaluate",
    "evaluate_suite",
    "folder_pairs",
    "format_table",
    "pair_credit",
    "print_results",
    "read_results",
    "result_summary",
    "run_extra",
    "score_pairs",
    "select_pairs",
    "select_suite",
    "supplement_pairs",
    "wilson_interval",
    "write_lm_eval_tasks",
    "write_results",
]
