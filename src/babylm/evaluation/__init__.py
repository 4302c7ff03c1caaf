"""Evaluation: the task sets, the scorers, the aggregation, and the one path that runs them.

``tasks``      which pairs: BLiMP, the supplement, user folders (``select_pairs``)
``scoring``    log-probabilities: the prefix-tree and plain causal scorers, masked-LM PLL
``prefix_tree`` the prefix-tree layout the tree scorer runs on
``aggregate``  the tie rule, accuracies per paradigm, term and field, Wilson intervals
``run``        ``score_pairs`` (nothing written), ``write_results``, ``evaluate_model`` (both)
``suite_tasks`` the BabyLM 2025 zero-shot tasks, read as the official pipeline reads them
``suite``      their official protocol and figures, through the prefix-tree scorer
``submission`` the challenge's submission file and word-budget checkpoints' fast evals
"""

from babylm.evaluation.aggregate import aggregate, format_table, pair_credit, wilson_interval
from babylm.evaluation.run import (
    Scored,
    evaluate_model,
    evaluate_suite,
    load_scoring_model,
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
    "evaluate_model",
    "evaluate_suite",
    "folder_pairs",
    "format_table",
    "load_scoring_model",
    "pair_credit",
    "score_pairs",
    "select_pairs",
    "select_suite",
    "supplement_pairs",
    "wilson_interval",
    "write_lm_eval_tasks",
    "write_results",
]
