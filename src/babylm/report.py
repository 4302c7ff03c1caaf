"""Compare runs with each other and with published BLiMP rows: report.md, report.html, plots.

Each run (a run folder or an eval folder holding ``blimp.json``) becomes one column beside the
published rows shipped with the package (the BLiMP paper's models and human agreement, the
reference 26M and 66M models). The HTML embeds its images, so it opens anywhere on its own.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babylm.errors import BabylmError
from babylm.evaluation import pair_credit
from babylm.runfolder import RunFiles, atomic_write_text
from babylm.tables import markdown_table, percent


@dataclass
class Entry:
    """One column of the report: a run of ours or a published row."""

    name: str
    overall: float
    macro: float
    paradigms: dict[str, float]
    terms: dict[str, float]
    fields: dict[str, float]
    n_pairs: int | None
    protocol: str
    published: bool = False
    source: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    pairs_file: Path | None = None
    supplement: float | None = None
    supplement_pairs: int | None = None
    suite: dict[str, float] = field(default_factory=dict)
    """BabyLM 2025 suite headlines (official protocol), where the folder has them."""
    fast_curve: dict[str, Any] = field(default_factory=dict)
    """The fast suite at each word checkpoint (``fast.json``'s ``checkpoints``), if scored."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BabylmError(f"{path}: cannot read ({err})") from err


def load_entry(path: Path, name: str | None = None) -> Entry:
    """A run folder, an eval folder, or a run's copy in ``results/<run>/`` (``RunFiles``)."""
    files = RunFiles.of(path)
    if not files.blimp.is_file():
        raise BabylmError(f"{path}: no blimp.json here or in eval/ (run `babylm eval` first)")
    res = _read_json(files.blimp)
    metrics: list[dict[str, Any]] = []
    if files.metrics.is_file():
        lines = files.metrics.read_text(encoding="utf-8").splitlines()
        metrics = [json.loads(line) for line in lines if line.strip()]
    sup = files.supplement
    lead = " +space" if res.get("leading_space") else ""
    suite = next((_read_json(p)["headlines"] for p in files.suite_summaries if p.is_file()), {})
    fast_curve = _read_json(files.fast)["checkpoints"] if files.fast.is_file() else {}
    return Entry(
        name=name or files.name,
        overall=res["overall"],
        macro=res["macro"],
        paradigms={k: v["acc"] for k, v in res["paradigms"].items()},
        terms={k: v["acc"] for k, v in res["terms"].items()},
        fields={k: v["acc"] for k, v in res["fields"].items()},
        n_pairs=res["n_pairs"],
        protocol=res["protocol"] + lead,
        metrics=metrics,
        pairs_file=files.pairs if files.pairs.is_file() else None,
        supplement=_read_json(sup)["overall"] if sup.is_file() else None,
        supplement_pairs=_read_json(sup)["n_pairs"] if sup.is_file() else None,
        suite=suite,
        fast_curve=fast_curve,
    )


def paradigm_info() -> dict[str, tuple[str, str]]:
    """BLiMP paradigm -> (field, linguistics term), from the embedded data."""
    from babylm.data import blimp_paradigms, load_blimp

    info = {}
    for name in blimp_paradigms():
        row = load_blimp(name)[0]
        info[name] = (row["field"], row["linguistics_term"])
    return info


def _mean_by(scores: dict[str, float], key: dict[str, str]) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for paradigm, acc in scores.items():
        if paradigm in key:
            groups.setdefault(key[paradigm], []).append(acc)
    return {k: sum(v) / len(v) for k, v in sorted(groups.items())}


def published_entries() -> list[Entry]:
    """The published rows; fields and terms are means over their paradigms (equal sizes)."""
    from babylm.data import published_blimp

    info = paradigm_info()
    entries = []
    for name, row in published_blimp().items():
        scores = row["paradigms"]
        mean = sum(scores.values()) / len(scores)
        entries.append(
            Entry(
                name=name,
                overall=mean,
                macro=mean,
                paradigms=scores,
                terms=_mean_by(scores, {p: t for p, (_, t) in info.items()}),
                fields=_mean_by(scores, {p: f for p, (f, _) in info.items()}),
                n_pairs=None,
                protocol=row["protocol"],
                published=True,
                source=row["source"],
            )
        )
    return entries


def comparison_table(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Rows: overall, macro, each field, each term; columns: the entries."""
    header = ["", *[e.name for e in entries]]
    rows = [
        ["**overall** (pairs)", *[_pct(e.overall) for e in entries]],
        ["macro (paradigms)", *[_pct(e.macro) for e in entries]],
    ]
    for label, attr in (("field", "fields"), ("term", "terms")):
        keys = sorted({k for e in entries for k in getattr(e, attr)})
        rows += [[f"{label}: {k}", *[_pct(getattr(e, attr).get(k)) for e in entries]] for k in keys]
    rows.append(["pairs", *[f"{e.n_pairs:,}" if e.n_pairs else "published" for e in entries]])
    rows.append(["BLiMP supplement (pairs)", *[_supplement(e) for e in entries]])
    return header, rows


def _supplement(e: Entry) -> str:
    """The supplement score with its pair count: a 464-pair subset is not the full 5,218."""
    if e.supplement is None:
        return ""
    return (
        f"{_pct(e.supplement)} ({e.supplement_pairs:,})"
        if e.supplement_pairs
        else _pct(e.supplement)
    )


SUITE_COLUMNS = {
    "blimp_filtered": "BLiMP",
    "supplement_filtered": "Supplement",
    "ewok": "EWoK",
    "eye_tracking": "Eye tracking",
    "self_paced_reading": "Self-paced reading",
    "entity_tracking": "Entity tracking",
    "wug_adj": "WUG",
}


def suite_table(runs: list[Entry]) -> tuple[list[str], list[list[str]]] | None:
    """The runs' BabyLM 2025 suite headlines beside the published 2025 baselines (causal
    scoring, strict-small then strict); None when no run has suite figures."""
    from babylm.data import published_suite

    scored = [e for e in runs if e.suite]
    if not scored:
        return None
    header = ["Model", *SUITE_COLUMNS.values()]

    def cells(values: dict[str, float | None]) -> list[str]:
        return [f"{values[k]:.2f}" if values.get(k) is not None else "" for k in SUITE_COLUMNS]

    rows = [[f"**{e.name}** (ours)", *cells(e.suite)] for e in scored]
    for row in published_suite():
        rows.append([f"{row['model']}, {row['track']} ({row['scoring']})", *cells(row)])
    return header, rows


def words_table(runs: list[Entry]) -> tuple[list[str], list[list[str]]] | None:
    """The fast suite's headlines at each word checkpoint of the runs that have them."""
    runs = [e for e in runs if e.fast_curve]
    if not runs:
        return None
    names = sorted({k for e in runs for c in e.fast_curve.values() for k in c["headlines"]})
    rows = []
    for e in runs:
        for checkpoint, c in _by_words(e.fast_curve):
            got = c["headlines"]
            words = f"{c['words_mark'] / 1e6:g}M" if "words_mark" in c else "?"
            rows.append([e.name, checkpoint, words] + [_num(got.get(n)) for n in names])
    return ["run", "checkpoint", "words seen", *names], rows


def _by_words(curve: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return sorted(curve.items(), key=lambda kv: kv[1].get("words_mark", 0))


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def _pct(x: float | None) -> str:
    return percent(x)


def _credits(path: Path) -> dict[tuple[str, str], float]:
    out = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["task"] == "blimp":
                out[(row["paradigm"], row["pair_id"])] = pair_credit(
                    row["good"], row["bad"], "standard"
                )
    return out


def agreement(a: Entry, b: Entry) -> dict[str, int]:
    """Pair by pair over the BLiMP pairs both scored: who gets which right (a tie is not right)."""
    if a.pairs_file is None or b.pairs_file is None:
        raise BabylmError(f"{a.name} or {b.name}: no pairs.jsonl.gz to compare pair by pair")
    ca, cb = _credits(a.pairs_file), _credits(b.pairs_file)
    common = ca.keys() & cb.keys()
    right_a = {k for k in common if ca[k] == 1.0}
    right_b = {k for k in common if cb[k] == 1.0}
    only_a, only_b = len(right_a - right_b), len(right_b - right_a)
    return {
        "pairs": len(common),
        "both": len(right_a & right_b),
        "only_a": only_a,
        "only_b": only_b,
        "neither": len(common - right_a - right_b),
        "mcnemar_p": mcnemar_p(only_a, only_b),
    }


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: are two models' accuracies on the same pairs different?

    Only the pairs exactly one model gets right carry information; under "no difference" each
    of them is equally likely to favour either model (a binomial with p = 1/2). This is the
    paired test the per-pair scores allow; it does not cover training-seed variance.
    """
    from statsmodels.stats.contingency_tables import mcnemar  # slow to import: only when asked

    if only_a + only_b == 0:
        return 1.0
    return float(mcnemar([[0, only_a], [only_b, 0]], exact=True).pvalue)


# ---------------------------------------------------------------- plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_terms(entries: list[Entry], path: Path) -> None:
    plt = _plt()
    terms = sorted({t for e in entries for t in e.terms})
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(terms)), 4.5))
    width = 0.8 / len(entries)
    for i, e in enumerate(entries):
        xs = [j + (i - (len(entries) - 1) / 2) * width for j in range(len(terms))]
        values = [100 * e.terms.get(t, float("nan")) for t in terms]
        ax.bar(xs, values, width, label=e.name, alpha=0.6 if e.published else 1.0)
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(len(terms)), terms, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 122)  # headroom for the legend above the bars
    ax.set_yticks(range(0, 101, 20))
    ax.set_title("BLiMP accuracy per linguistic term (dashed: chance)")
    ax.legend(fontsize=7, ncol=min(5, len(entries)), loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(entries: list[Entry], path: Path) -> None:
    plt = _plt()
    info = paradigm_info()
    names = sorted(
        {p for e in entries for p in e.paradigms}, key=lambda p: (info.get(p, ("", ""))[1], p)
    )
    grid = [[100 * e.paradigms.get(p, float("nan")) for e in entries] for p in names]
    fig, ax = plt.subplots(figsize=(4.5 + 0.8 * len(entries), 0.19 * len(names) + 1.5))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(
        range(len(entries)), [e.name for e in entries], rotation=30, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(names)), names, fontsize=6)
    fig.colorbar(image, ax=ax, label="accuracy (%)", fraction=0.05)
    ax.set_title("BLiMP accuracy per paradigm (grouped by term)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_losses(entries: list[Entry], path: Path) -> bool:
    """Training and dev loss against tokens seen; beside it the dev loss alone, on its own
    scale, where runs that differ by hundredths (a regulariser against its control) part."""
    runs = [e for e in entries if e.metrics]
    if not runs:
        return False
    plt = _plt()
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, e in enumerate(runs):
        color = f"C{i % 10}"
        train = [
            (m["tokens_seen"], m["loss"]) for m in e.metrics if "loss" in m and "tokens_seen" in m
        ]
        dev = [(m["tokens_seen"], m["eval_loss"]) for m in e.metrics if "eval_loss" in m]
        if train:
            ax.plot(
                *zip(*train, strict=True), color=color, alpha=0.5, lw=0.8, label=f"{e.name} train"
            )
        if dev:
            ax.plot(*zip(*dev, strict=True), color=color, marker="o", lw=1.5, label=f"{e.name} dev")
            zoom.plot(*zip(*dev, strict=True), color=color, marker="o", lw=1.5, label=e.name)
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("loss (nats / token)")
    ax.set_title("Training and dev loss")
    ax.legend(fontsize=7)
    zoom.set_xlabel("tokens seen")
    zoom.set_title("Dev loss alone")
    zoom.grid(alpha=0.3)
    if zoom.lines:
        zoom.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_word_curves(curves: dict[str, dict[str, Any]], path: Path) -> None:
    """Each fast-suite headline against the words seen, one panel per figure, one line per run
    (``curves``: run name -> ``fast.json``'s ``checkpoints``)."""
    plt = _plt()
    names = sorted({k for cu in curves.values() for c in cu.values() for k in c["headlines"]})
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for run, curve in curves.items():
            points = [
                (c.get("words_mark", 0) / 1e6, c["headlines"][name])
                for _, c in _by_words(curve)
                if name in c["headlines"]
            ]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=run)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("words seen (M)")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    if len(curves) > 1:
        axes.flat[0].legend(fontsize=7)
    fig.suptitle("BabyLM fast suite at the word checkpoints", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_agreement(a: Entry, b: Entry, counts: dict[str, int], path: Path) -> None:
    plt = _plt()
    labels = ["both right", f"only {a.name}", f"only {b.name}", "neither"]
    values = [counts["both"], counts["only_a"], counts["only_b"], counts["neither"]]
    fig, ax = plt.subplots(figsize=(6, 3))
    bars = ax.barh(labels[::-1], values[::-1], color=["#999", "C1", "C0", "#4a4"])
    ax.bar_label(bars, [f"{v:,}" for v in values[::-1]], fontsize=8, padding=2)
    ax.set_xlabel(f"BLiMP pairs (of {counts['pairs']:,} scored by both)")
    ax.set_title(f"Pair-by-pair agreement: {a.name} vs {b.name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- report


def _html_table(header: list[str], rows: Iterable[list[str]]) -> str:
    def cell(tag: str, text: str) -> str:
        bold = text.startswith("**") and text.endswith("**")
        body = html.escape(text.replace("**", ""))
        return f"<{tag}>{'<b>' + body + '</b>' if bold else body}</{tag}>"

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def split_label(source: Path) -> tuple[Path, str | None]:
    """``NAME=FOLDER`` names a column (``eval-full`` says little); a plain folder names itself."""
    name, sep, folder = str(source).partition("=")
    if sep and name and "/" not in name and not source.exists():
        return Path(folder), name
    return source, None


def write_report(
    sources: list[Path], out_dir: Path, published: bool = True, title: str = "BLiMP comparison"
) -> dict[str, Any]:
    """Write report.md, report.html and the PNGs into ``out_dir``; return what was written."""
    runs = [load_entry(*split_label(p)) for p in sources]
    if not runs:
        raise BabylmError("compare: give at least one run or eval folder")
    names = [e.name for e in runs]
    for i, e in enumerate(runs):  # two folders with the same name: tell them apart
        if names.count(e.name) > 1:
            e.name = f"{e.name} ({i + 1})"
    entries = runs + (published_entries() if published else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = []
    plot_terms(entries, out_dir / "terms.png")
    figures.append(("terms.png", "Accuracy per linguistic term"))
    plot_heatmap(entries, out_dir / "paradigms.png")
    figures.append(("paradigms.png", "Accuracy per paradigm"))
    if plot_losses(runs, out_dir / "loss.png"):
        figures.append(("loss.png", "Training and dev loss of the runs"))
    curves = {e.name: e.fast_curve for e in runs if e.fast_curve}
    if curves:
        plot_word_curves(curves, out_dir / "words.png")
        figures.append(("words.png", "BabyLM fast suite against words seen"))
    agree = None
    with_pairs = [e for e in runs if e.pairs_file]
    if len(with_pairs) >= 2:
        a, b = with_pairs[:2]
        agree = agreement(a, b) | {"a": a.name, "b": b.name}
        plot_agreement(a, b, agree, out_dir / "agreement.png")
        figures.append(("agreement.png", f"Pair-by-pair agreement, {a.name} vs {b.name}"))
    header, rows = comparison_table(entries)
    notes = _notes(entries, agree)
    md = [
        f"# {title}\n",
        "Accuracy (%) on BLiMP minimal pairs.\n",
        markdown_table(header, rows),
        "",
    ]
    suite = suite_table(runs)
    if suite:
        md += [
            "## BabyLM 2025 zero-shot suite (official protocol)\n",
            markdown_table(*suite),
            "",
            "Published rows: the 2025 baselines (10 epochs of 10M words, strict-small, or 100M,"
            " strict), scored causally, from the official pipeline's README (DATA.md).",
            "",
        ]
    words = words_table(runs)
    if words:
        md += [
            "## Fast suite at the word checkpoints (official protocol)\n",
            markdown_table(*words),
            "",
            "Fast sets: deterministic stratified samples of the official fast sizes"
            " (`babylm eval RUN --checkpoints`).",
            "",
        ]
    md += notes + [""] + [f"![{alt}]({name})\n" for name, alt in figures]
    atomic_write_text(out_dir / "report.md", "\n".join(md))
    images = "".join(
        f"<figure><img alt='{html.escape(alt)}' src='data:image/png;base64,"
        f"{base64.b64encode((out_dir / name).read_bytes()).decode()}'>"
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
        for name, alt in figures
    )
    notes_html = "".join(f"<p>{html.escape(n.lstrip('- '))}</p>" for n in notes)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Accuracy (%) on BLiMP minimal pairs.</p>{_html_table(header, rows)}"
        + (f"<h2>BabyLM 2025 zero-shot suite</h2>{_html_table(*suite)}" if suite else "")
        + (f"<h2>Fast suite at the word checkpoints</h2>{_html_table(*words)}" if words else "")
        + f"{notes_html}{images}</body></html>\n"
    )
    atomic_write_text(out_dir / "report.html", page)
    summary = {
        name: {"overall": e.overall, "macro": e.macro} for name, e in ((e.name, e) for e in runs)
    }
    return {
        "files": ["report.md", "report.html", *[name for name, _ in figures]],
        "runs": summary,
        "agreement": agree,
    }


def _notes(entries: list[Entry], agree: dict[str, Any] | None) -> list[str]:
    notes = []
    for e in entries:
        if e.published:
            notes.append(f"- {e.name}: {e.protocol}; {e.source}.")
        else:
            notes.append(f"- {e.name}: ours, protocol `{e.protocol}`, {e.n_pairs:,} pairs.")
    if any(e.published and e.name.startswith("reference") for e in entries):
        notes.append(
            "- The reference models' rows come from a 200-per-paradigm subset scored without BOS,"
            " ties wrong: not strictly comparable with full-BLiMP figures under the standard"
            " protocol."
        )
    if agree:
        notes.append(
            f"- Pair by pair ({agree['pairs']:,} pairs): both right {agree['both']:,},"
            f" only {agree['a']} {agree['only_a']:,}, only {agree['b']} {agree['only_b']:,},"
            f" neither {agree['neither']:,}; exact McNemar test of the difference:"
            f" p = {agree['mcnemar_p']:.3g}."
        )
    return notes


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f6f6f6}"
    "img{max-width:100%}figure{margin:1.5em 0}"
)
