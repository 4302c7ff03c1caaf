"""The one place that renders figures as text: percentages and Markdown / terminal tables.

The model card, the comparison report, the terminal summary and ``scripts.results_table`` all
print accuracies through :func:`percent`, so a figure is rounded the same way wherever it
appears.
"""

from __future__ import annotations

from collections.abc import Iterable


def percent(x: float | None, digits: int = 1, sign: bool = False) -> str:
    """0.58375 -> "58.4" (no % sign unless ``sign``); None -> "" (an empty table cell)."""
    if x is None:
        return ""
    return f"{100 * x:.{digits}f}" + ("%" if sign else "")


def markdown_table(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
