"""Welch's t-test (mnistlab.stats) and the comparison table's "within noise of the best" marks.

The reference values were computed with SciPy 1.17 (not a test dependency):
``scipy.stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False)`` and
``scipy.special.betainc(a, b, x)``.
"""

from __future__ import annotations

import io
import math

import pytest

from mnistlab.comparison import best_legend, display_cells, format_rows, mark_vs_best
from mnistlab.stats import betainc, holm, mean_sd, welch_test

SCIPY_WELCH = [  # (m1, s1, n1, m2, s2, n2) -> (t, two-sided p)
    ((0.9123, 0.0031, 5, 0.9101, 0.0042, 5), (0.9423764611318538, 0.3758940448634778)),
    ((0.8714, 0.0075, 3, 0.8476, 0.0093, 3), (3.450362604382813, 0.027928585927801695)),
    ((0.99, 0.001, 8, 0.9885, 0.0012, 8), (2.716072381275458, 0.01710970453030948)),
    ((0.5, 0.1, 2, 0.52, 0.05, 3), (-0.26186146828319107, 0.8278853746118682)),
    ((0.87, 0.0064, 8, 0.8742, 0.0069, 8), (-1.262266224386177, 0.22758971997141358)),
]
SCIPY_BETAINC = [((2.5, 0.5, 0.3), 0.018927124071945658), ((0.5, 7, 0.9), 0.9999999780702157),
                 ((10, 0.5, 0.99), 0.6579281751567845)]


@pytest.mark.parametrize("stats, expected", SCIPY_WELCH)
def test_welch_test_matches_scipy(stats, expected):
    result = welch_test(*stats)
    assert result.t == pytest.approx(expected[0], rel=1e-12)
    assert result.p == pytest.approx(expected[1], rel=1e-9)


@pytest.mark.parametrize("args, expected", SCIPY_BETAINC)
def test_betainc_matches_scipy(args, expected):
    assert betainc(*args) == pytest.approx(expected, rel=1e-12)


def test_welch_edge_cases_and_bad_input():
    assert welch_test(0.9, 0.0, 3, 0.9, 0.0, 3).p == 1.0
    untestable = welch_test(0.91, 0.0, 3, 0.9, 0.0, 3)  # scipy's ttest_ind_from_stats: t inf, p nan
    assert untestable.t == math.inf and math.isnan(untestable.p) and math.isnan(untestable.df)
    assert welch_test(0.9, 0.01, 4, 0.8, 0.01, 4).p == welch_test(0.8, 0.01, 4, 0.9, 0.01, 4).p
    with pytest.raises(ValueError, match="at least 2"):
        welch_test(0.9, 0.01, 1, 0.8, 0.01, 4)
    with pytest.raises(ValueError, match="betainc"):
        betainc(-1, 1, 0.5)


def row(variant, acc, sd, n):
    return {"variant": variant, "n": n, "test_acc": acc, "test_acc_std": sd}


def test_the_table_marks_variants_within_the_best_ones_noise():
    rows = mark_vs_best([row("a", 0.9101, 0.0042, 5), row("b", 0.9123, 0.0031, 5), row("c", 0.8476, 0.0093, 5),
                         row("single", 0.95, None, 1)])
    marks = {r["variant"]: (r["vs_best"], r["vs_best_p"]) for r in rows}
    assert marks["b"] == ("best", None)  # one run cannot be ranked: "single" is not the best despite its mean
    assert marks["a"][0] == "within noise" and marks["a"][1] == pytest.approx(0.3758940448634778, rel=1e-9)
    assert marks["c"][0] == "below" and marks["c"][1] < 0.05
    assert marks["single"] == (None, None)
    _, cells = display_cells(rows)
    shown = {c[0]: c for c in cells}
    assert any(x.endswith(" best") for x in shown["b"]) and any(x.endswith(" ~best") for x in shown["a"])
    assert not any("best" in x for x in shown["c"][1:])
    assert mark_vs_best([row("only", 0.9, 0.01, 3)])[0]["vs_best"] is None  # nothing to compare with


def test_the_marks_are_explained_under_the_table():
    rows = mark_vs_best([row("a", 0.9101, 0.0042, 5), row("b", 0.9123, 0.0031, 5)])
    assert best_legend(rows) == ("best: the highest mean test accuracy of the variants with 2 runs or more (mean +- "
                                 "sample sd in points, n - 1 in its denominator); ~best: Welch's t-test cannot tell its "
                                 "mean from best's (p >= 0.05), so their order may be seed noise")
    apart = mark_vs_best([row("b", 0.9123, 0.0031, 5), row("c", 0.8476, 0.0093, 5)])
    assert best_legend(apart).endswith("; unmarked ones with 2 runs or more differ from best by Welch's test (p < "
                                       "0.05, the best is chosen by the same runs, so with few runs a hint, not a proof)")
    three = mark_vs_best([row("b", 0.9123, 0.0031, 5), row("c", 0.8476, 0.0093, 5), row("a", 0.9101, 0.0042, 5)])
    assert "(p < 0.05, Holm-adjusted for the 2 rows tested against the best; the best" in best_legend(three)
    assert "(p >= 0.05, Holm-adjusted)" in best_legend(three)
    comm = mark_vs_best([{**row("b", 0.9123, 0.0031, 5), "committee_acc": 0.93}, row("c", 0.8476, 0.0093, 5)])
    assert best_legend(comm).endswith("; a committee row is tested by its members' mean")
    # new-user finding (helper-102): 2 runs a row, one row's runs alike: 6 points apart read "~best" unexplained
    few = mark_vs_best([row("cnn", 0.96, 0.02, 2), row("dense", 0.898, 0.0, 2)])
    assert few[1]["vs_best"] == "within noise"
    assert best_legend(few).endswith("so their order may be seed noise (or too few runs to tell: 2 runs a row leave "
                                     "the test almost no power, 1 degree of freedom where a row's runs agree; "
                                     "repeats = 3 or more tell more)")
    assert "too few runs" not in best_legend(rows)  # 5 runs a row
    # helper-258: two seeds each tied on 200 test images (85.5% twice, 83.5% twice): p = 0 marked it below
    tied = mark_vs_best([row("comm", 0.855, 0.0, 2), row("lr_high", 0.835, 0.0, 2), row("c", 0.70, 0.01, 3)])
    assert [(r["vs_best"], r["vs_best_p"] is None) for r in tied] == [("best", True), ("within noise", True),
                                                                      ("below", False)]
    assert tied[2]["vs_best_p"] == pytest.approx(welch_test(0.855, 0.0, 2, 0.70, 0.01, 3).p)  # a family of one test
    assert "(a row without a p: its runs and best's each agree exactly" in best_legend(tied)
    assert "a spread of 0 is no test; or too few runs to tell: 2 runs a row" in best_legend(tied)  # one parenthesis
    assert "Holm-adjusted" not in best_legend(tied)  # one row tested: no family (the review of session 59: "for the 2")
    heads, cells = display_cells([{**tied[0], "epochs": 5 / 3}])
    assert cells[0][heads.index("epochs")] == "1.67"  # a mean of early-stopped runs (helper-261: 1.66667)
    heads, cells = display_cells([{**tied[0], "epochs": 1000 + 1 / 3}])
    assert cells[0][heads.index("epochs")] == "1000.33"  # (not 1e+03)
    alone = mark_vs_best([row("b", 0.9123, 0.0031, 5), row("one run", 0.95, None, 1)])
    assert best_legend(alone) is None  # one variant of 2 runs or more: nothing is ranked, nothing is marked
    assert best_legend(mark_vs_best([row("a", 0.9, None, 1), row("b", 0.8, None, 1)])) is None  # no marks: no legend


def test_the_marked_column_keeps_its_figures_in_line():
    """Noted in session 34: "best" and "~best" after the right-aligned test accuracy pushed it left
    of the unmarked rows' in a plain table; the marks take one width, so the figures line up."""
    rows = mark_vs_best([row("a", 0.72, 0.0557, 3), row("b", 0.80, 0.02, 3), row("c", 0.21, 0.02, 3)])
    heads, cells = display_cells(rows)
    at = heads.index("test acc")
    shown = [c[at] for c in cells]
    assert [s.split(" +-")[0] for s in shown] == ["72.00%", "80.00%", "21.00%"]
    assert len({len(s) for s in shown}) == 1 and {s[-6:] for s in shown} == {" ~best", "  best", " " * 6}, shown
    assert "  " not in format_rows(rows, "markdown")  # markdown's cells: single spaces


def test_on_a_terminal_the_marks_have_a_column_of_their_own():
    """Review finding (helper-110): rich strips a right-aligned cell's trailing spaces, so on a
    terminal the unmarked rows' accuracies still stood 6 cells right of the marked ones'."""
    from rich.console import Console

    from mnistlab.comparison import rich_table

    rows = mark_vs_best([row("a", 0.72, 0.0557, 3), row("b", 0.80, 0.02, 3), row("c", 0.21, 0.02, 3)])
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(rich_table(rows))
    lines = {ln.split()[1]: ln for ln in console.export_text().splitlines() if ln[:3] in ("│ a", "│ b", "│ c")}
    assert len({ln.index("(n=3)") for ln in lines.values()}) == 1, lines
    assert "~best" in lines["a"] and " best " in lines["b"] and "best" not in lines["c"]


def test_csv_and_json_carry_no_binary_noise_of_a_mean() -> None:
    """helper-114: `compare --format csv` printed 0.8847499999999999 for the mean of 0.8795 and 0.89."""
    import json

    mean = (0.8795 + 0.89) / 2
    assert repr(mean) == "0.8847499999999999"
    rows = [{"variant": "a", "n": 2, "test_acc": mean, "test_acc_std": 0.007424621202458749, "params": 43_706,
             "run_ids": ["ab", "cd"], "model.dense": [0.1 + 0.2]}]
    line = format_rows(rows, "csv").splitlines()[1]
    assert ",0.88475,0.00742462120246," in line and "0.30000000000000004" not in line and "[0.3]" in line
    said = json.loads(format_rows(rows, "json"))[0]
    assert said["test_acc"] == 0.88475 and said["params"] == 43_706 and said["model.dense"] == [0.3]


def test_equal_scores_are_never_told_apart_by_a_floats_residue():
    """helper-215: ten runs of 12.60% against two marked the ten "below" (p = 0.015): np.mean of ten
    0.126 is 0.12599999999999997 and its sd 3e-17, which Welch's test read as a real difference."""
    assert mean_sd([0.126] * 10) == (0.126, 0.0) and mean_sd([0.126]) == (0.126, None)
    mean, sd = mean_sd([0.9, 0.92, 0.91])
    assert mean == pytest.approx(0.91, abs=1e-15) and sd == pytest.approx(0.01, abs=1e-15)
    assert welch_test(0.12599999999999997, 2.9e-17, 10, 0.126, 0.0, 2).p == 1.0
    rows = mark_vs_best([row("ten", 0.12599999999999997, 2.9e-17, 10), row("two", 0.126, 0.0, 2)])
    assert [r["vs_best"] for r in rows] == ["best", "within noise"]  # (of equal means, the one with more runs)
    with pytest.raises(ValueError, match="at least one"):
        mean_sd([])


def test_rows_tested_against_the_best_are_holm_adjusted():
    """helper-215: each row was tested alone against the best, so 10 variants of one setting called
    one "below" in half of the tables. The p-values are Holm's (statsmodels' multipletests(method="holm")
    gives [0.03, 0.06, 0.06] for these)."""
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2]) == [0.2] and holm([]) == [] and holm([0.5, 0.9]) == [1.0, 1.0]
    raw = [welch_test(0.9123, 0.0031, 5, m, s, 5).p for m, s in ((0.907, 0.0031), (0.9075, 0.0031), (0.90, 0.02))]
    assert raw[0] < 0.05 and raw[1] < 0.05  # alone, two rows would read "below"
    rows = mark_vs_best([row("best", 0.9123, 0.0031, 5), row("x", 0.907, 0.0031, 5), row("y", 0.9075, 0.0031, 5),
                         row("z", 0.90, 0.02, 5)])
    assert [r["vs_best"] for r in rows[1:]] == ["within noise"] * 3  # 0.027 x 3 and 0.040 x 2: noise of 3 rows
    assert [r["vs_best_p"] for r in rows[1:]] == pytest.approx(holm(raw))
    assert [r["vs_best"] for r in rows[1:]] == ["below" if p < 0.05 else "within noise" for p in holm(raw)]
