"""Bad input to the ranker, the generator and the ``rank`` command: clear errors."""

import numpy as np
import pytest

from sparsestat import RobustPairwiseRanker
from sparsestat.cli import main
from sparsestat.datasets import make_pairwise_comparisons

PAIRS = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [1, 3], [0, 3]])
Y = np.array([1.0, 1.0, 2.0, 1.0, 2.0, 3.0])


def test_self_comparison():
    pairs = np.vstack([PAIRS, [[2, 2]]])
    with pytest.raises(ValueError, match=r"1 self-comparison.*row 6.*remove them"):
        RobustPairwiseRanker().fit(pairs, np.append(Y, 1.0))
    pairs = np.vstack([PAIRS, [[2, 2], [1, 1]]])
    with pytest.raises(ValueError, match=r"2 self-comparison.*rows 6 and 7"):
        RobustPairwiseRanker().fit(pairs, np.append(Y, [1.0, 1.0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_outcome(bad):
    y = Y.copy()
    y[3] = bad
    with pytest.raises(ValueError, match=r"y contains 1 NaN or inf outcome.*row 3.*drop or fix"):
        RobustPairwiseRanker().fit(PAIRS, y)
    y[[0, 5]] = bad
    with pytest.raises(ValueError, match=r"y contains 3 NaN or inf outcome.*rows 0, 3 and 5"):
        RobustPairwiseRanker().fit(PAIRS, y)


STRING_PAIRS = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"], ["a", "d"]])


@pytest.mark.parametrize("missing", ["", "  ", None, np.nan])
def test_missing_item_label_is_an_error_not_an_item(missing):
    pairs = STRING_PAIRS.astype(object)
    pairs[4, 1] = missing
    with pytest.raises(ValueError, match=r"1 comparison\(s\) with a missing item label .*at row "
                                         r"4.*fill them in or drop those rows"):
        RobustPairwiseRanker().fit(pairs, Y)
    pairs[1, 0] = missing
    with pytest.raises(ValueError, match=r"2 comparison\(s\) with a missing item label .*at rows "
                                         r"1 and 4"):
        RobustPairwiseRanker().fit(pairs, Y)
    if isinstance(missing, str):  # the same in a numpy string array
        with pytest.raises(ValueError, match=r"missing item label .*rows 1 and 4"):
            RobustPairwiseRanker().fit(pairs.astype(str), Y)


@pytest.mark.parametrize("missing", ["", " ", None, np.nan])
def test_missing_annotator_is_an_error_not_an_annotator(missing):
    ann = np.array(["x", "y", "x", "y", "x", "y"], dtype=object)
    ann[[2, 5]] = missing
    with pytest.raises(ValueError, match=r"annotators has 2 missing id\(s\).*at rows 2 and 5; "
                                         r"every comparison needs an annotator id"):
        RobustPairwiseRanker().fit(PAIRS, Y, annotators=ann)


def test_a_spanning_tree_leaves_nothing_to_check():
    # a path a > b > c > d: every ranking fits it exactly
    with pytest.raises(ValueError, match=r"3 comparisons .* too few to find outliers: the "
                                         r"scores of 4 items in 1 connected component\(s\) "
                                         r"have 3 free parameters.*more than 3 in all"):
        RobustPairwiseRanker().fit(PAIRS[[0, 1, 3]], Y[[0, 1, 3]])
    # zero weights do not count; a repeated pair closes a cycle
    with pytest.raises(ValueError, match="too few to find outliers"):
        RobustPairwiseRanker().fit(PAIRS, Y, sample_weight=[1, 1, 0, 1, 0, 0])
    ranker = RobustPairwiseRanker().fit(PAIRS[[0, 1, 3, 0]], [1.0, 1.0, 1.0, 2.0])
    # least squares: the two comparisons of items 0 and 1 are averaged, the rest fit exactly
    np.testing.assert_allclose(-np.diff(ranker.scores_), [1.5, 1.0, 1.0], atol=1e-12)
    assert not ranker.outliers_.any()
    with pytest.raises(ValueError, match="item_features give 2 free parameters"):
        RobustPairwiseRanker().fit(PAIRS[:2], Y[:2], item_features=np.eye(3)[:, :2])


def test_unknown_items_at_predict():
    ranker = RobustPairwiseRanker().fit(PAIRS, Y)
    with pytest.raises(ValueError, match=r"1 item\(s\) not seen during fit: 7"):
        ranker.predict(np.array([[0, 7], [1, 2]]))
    with pytest.raises(ValueError, match="not seen during fit"):
        ranker.decision_function(np.array([[-1, 0]]))


def test_fewer_comparisons_than_a_spanning_tree():
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError, match=r"3 comparisons cannot connect 6 items.*at least "
                                         r"n_items - 1 = 5"):
        RobustPairwiseRanker().fit(pairs, np.ones(3))


def test_disconnected_graph_names_the_components():
    pairs = np.vstack([PAIRS, PAIRS + 4, PAIRS + 8])
    with pytest.raises(ValueError, match=r"disconnected: it has 3 connected components.*"
                                         r"on_disconnected='per_component'"):
        RobustPairwiseRanker().fit(pairs, np.tile(Y, 3))
    ranker = RobustPairwiseRanker(on_disconnected="per_component").fit(pairs, np.tile(Y, 3))
    assert ranker.n_components_ == 3


def test_negative_and_invalid_weights():
    with pytest.raises(ValueError, match=r"1 negative weight.*row 2.*must be >= 0"):
        RobustPairwiseRanker().fit(PAIRS, Y, sample_weight=[1, 1, -2, 1, 1, 1])
    with pytest.raises(ValueError, match="NaN or inf"):
        RobustPairwiseRanker().fit(PAIRS, Y, sample_weight=[1, 1, np.nan, 1, 1, 1])
    with pytest.raises(ValueError, match="zero for every comparison"):
        RobustPairwiseRanker().fit(PAIRS, Y, sample_weight=np.zeros(6))
    with pytest.raises(ValueError, match=r"one weight per comparison.*\(6,\)"):
        RobustPairwiseRanker().fit(PAIRS, Y, sample_weight=[1, 2])


def test_bad_shapes_and_labels():
    with pytest.raises(ValueError, match=r"shape \(n_comparisons, 2\)"):
        RobustPairwiseRanker().fit(np.zeros((5, 3)), np.ones(5))
    with pytest.raises(ValueError, match=r"one outcome per comparison.*\(6,\)"):
        RobustPairwiseRanker().fit(PAIRS, Y[:4])
    with pytest.raises(ValueError, match="NaN or inf item labels"):
        RobustPairwiseRanker().fit(np.array([[0.0, np.nan], [1, 2], [0, 2]]), np.ones(3))
    mixed = np.array([[0, "a"], ["a", 1], [0, 1]], dtype=object)
    with pytest.raises(ValueError, match="cannot be sorted together"):
        RobustPairwiseRanker().fit(mixed, np.ones(3))
    with pytest.raises(ValueError, match="contamination"):
        RobustPairwiseRanker(contamination=0.9).fit(PAIRS, Y)


def test_item_feature_errors():
    with pytest.raises(ValueError, match=r"one row per distinct item \(4 items"):
        RobustPairwiseRanker().fit(PAIRS, Y, item_features=np.ones((3, 2)))
    with pytest.raises(ValueError, match="needs a ranker fitted with item_features"):
        RobustPairwiseRanker().fit(PAIRS, Y).score_items(np.ones((2, 2)))
    ranker = RobustPairwiseRanker().fit(PAIRS, Y, item_features=np.arange(8.0).reshape(4, 2))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        ranker.score_items(np.ones((2, 3)))


def test_generator_errors():
    with pytest.raises(ValueError, match="n_items must be at least 2"):
        make_pairwise_comparisons(n_items=1)
    with pytest.raises(ValueError, match="malicious_fraction"):
        make_pairwise_comparisons(malicious_fraction=1.5)
    with pytest.raises(ValueError, match="behavior"):
        make_pairwise_comparisons(behavior="bribe")


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_cli_ranks_and_writes_the_output(tmp_path, capsys):
    rows = ["a,b,y"] + [f"{p},{q},{v:g}" for (p, q), v in zip(
        [("x", "y"), ("y", "z"), ("x", "z"), ("z", "w"), ("y", "w"), ("x", "w"), ("w", "x")],
        [1, 1, 2, 1, 2, 3, 3])]
    data = _write(tmp_path / "d.csv", "\n".join(rows) + "\n")
    out = tmp_path / "ranking.csv"
    assert main(["rank", data, "--left", "a", "--right", "b", "--outcome", "y",
                 "--contamination", "0.15", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 flagged" in text and "w  x  +3" in text
    lines = out.read_text().splitlines()
    assert lines[0] == "rank,item,score,component"
    assert [ln.split(",")[1] for ln in lines[1:]] == ["x", "y", "z", "w"]
    assert float(lines[1].split(",")[2]) == pytest.approx(1.5)


@pytest.mark.parametrize("content, args, message", [
    ("a,b\nx,y\ny,z\n", ["--left", "a", "--right", "c"], "column 'c' not in"),
    ("a,b,y\nx,y,1\ny,z,oops\n", ["--left", "a", "--right", "b", "--outcome", "y"],
     "must hold numbers; row 2"),
    ("a,b\nx,x\ny,z\n", ["--left", "a", "--right", "b"], "self-comparison"),
    ("a,b\nx,y\nz,w\n", ["--left", "a", "--right", "b"], "cannot connect 4 items"),
    ("a,b,w\nx,y,1\ny,z,-1\n", ["--left", "a", "--right", "b", "--weight", "w"],
     "negative weight in row 2"),
    # an empty item cell is not an item named ''
    ("a,b\nx,y\ny,\nx,z\n", ["--left", "a", "--right", "b"],
     "row 2 of {data} has no value in column 'b'"),
    ("a,b\nx,y\n ,z\nx,z\n,y\n", ["--left", "a", "--right", "b"],
     "rows 2 and 4 of {data} have no value in column 'a'"),
    # nor is an empty annotator cell an annotator named ''
    ("a,b,who\nx,y,p\ny,z,\nx,z,q\n", ["--left", "a", "--right", "b", "--annotator", "who"],
     "row 2 of {data} has no value in column 'who'"),
    ("a,b,y\nx,y,1\ny,z,\nx,z,2\n", ["--left", "a", "--right", "b", "--outcome", "y"],
     "row 2 of {data} has no value in column 'y'"),
    ("a,b,y\nx,y,1\ny,z,nan\nx,z,inf\n", ["--left", "a", "--right", "b", "--outcome", "y"],
     "NaN or inf value in rows 2 and 3"),
    ("a,b\nx,y\ny,z\nz,w\n", ["--left", "a", "--right", "b"], "too few to find outliers"),
    ("a,b\nx,y\ny,y\nx,z\nz,z\n", ["--left", "a", "--right", "b"],
     "rows 2 and 4 of {data} compare an item with itself"),
    # blank lines are skipped and not counted: rows are data rows from 1
    ("a,b\n\nx,y\n\ny,y\nx,z\n", ["--left", "a", "--right", "b"],
     "row 2 of {data} compares an item with itself"),
    ("a,b,y\nx,y,1\n\n\ny,z,oops\n", ["--left", "a", "--right", "b", "--outcome", "y"],
     "must hold numbers; row 2"),
])
def test_cli_errors_exit_2_without_output(tmp_path, capsys, content, args, message):
    data = _write(tmp_path / "d.csv", content)
    out = tmp_path / "ranking.csv"
    assert main(["rank", data, *args, "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message.format(data=data) in err and err.startswith("sparsestat rank: error:")
    assert len(err.splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "d.csv"]


def test_cli_margins_fdr(tmp_path, capsys):
    # clean margins on 200 items: the default flags nothing, --fdr 1 the |z| >= 3 tail
    rng = np.random.default_rng(0)
    left = rng.integers(0, 200, 4000)
    right = (left + rng.integers(1, 200, 4000)) % 200
    theta = rng.standard_normal(200)
    y = theta[left] - theta[right] + 0.5 * rng.standard_normal(4000)
    rows = ["a,b,y"] + [f"i{p},i{q},{v:.6f}" for p, q, v in zip(left, right, y)]
    data = _write(tmp_path / "m.csv", "\n".join(rows) + "\n")
    args = ["rank", data, "--left", "a", "--right", "b", "--outcome", "y"]
    counts = []
    for extra in ([], ["--fdr", "1"]):
        assert main(args + extra) == 0
        first = capsys.readouterr().out.splitlines()[0]
        counts.append(int(first.split("; ")[1].split()[0]))
    assert counts[0] == 0 and counts[1] >= 3
    with pytest.raises(SystemExit) as exc:
        main(args + ["--fdr", "0"])
    assert exc.value.code == 2 and "must be in (0, 1]" in capsys.readouterr().err


def test_cli_missing_file(tmp_path, capsys):
    assert main(["rank", str(tmp_path / "nope.csv"), "--left", "a", "--right", "b"]) == 2
    assert "not found" in capsys.readouterr().err


def test_annotator_errors():
    with pytest.raises(ValueError, match=r"one annotator per comparison.*\(6,\)"):
        RobustPairwiseRanker().fit(PAIRS, Y, annotators=[1, 2, 3])
    with pytest.raises(ValueError, match=r"annotators has 2 missing id.*rows 2 and 4"):
        RobustPairwiseRanker().fit(PAIRS, Y, annotators=[1.0, 2, np.nan, 1, np.inf, 1])


@pytest.mark.parametrize("link", ["linear", "logistic"])
def test_cli_flags_annotators(tmp_path, capsys, link):
    data = make_pairwise_comparisons(20, 1500, 15, 0.2, random_state=0, behavior="flip")
    lines = ["first,second,outcome,who"] + [
        f"i{a},i{b},{int(v)},ann{h}" for (a, b), v, h in
        zip(data.comparisons, data.outcomes, data.annotators)]
    path = _write(tmp_path / "votes.csv", "\n".join(lines) + "\n")
    assert main(["rank", path, "--left", "first", "--right", "second", "--outcome", "outcome",
                 "--annotator", "who", "--link", link]) == 0
    text = capsys.readouterr().out
    line = [ln for ln in text.splitlines() if ln.startswith("flagged annotators")][0]
    assert line.startswith(f"flagged annotators ({len(data.malicious)} of 15)")
    for a in data.malicious:
        assert f"ann{a}" in line


def test_logistic_link_errors():
    with pytest.raises(ValueError, match=r"needs \+1 / -1 outcomes"):
        RobustPairwiseRanker(link="logistic").fit(PAIRS, Y)
    with pytest.raises(ValueError, match="link='linear' only"):
        RobustPairwiseRanker(link="logistic").fit(PAIRS, np.ones(6),
                                                  item_features=np.ones((4, 2)))
