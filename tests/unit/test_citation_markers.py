"""An answer's [n] markers always point into the citation list the caller receives."""

from __future__ import annotations

from switchboard.agent.answering.prompting import cited_indexes, renumber_markers


def test_markers_are_renumbered_to_the_cited_passages() -> None:
    answer = "Refunds within 30 days [3]. Annual plans are prorated [1][3]. See also [9]."
    order = cited_indexes(answer, n_passages=4)
    assert order == [3, 1]  # first mention first; [9] is no passage of this prompt
    # citations = [passage 3, passage 1]: [3] -> [1], [1] -> [2]; the bogus [9] is dropped
    assert renumber_markers(answer, order) == (
        "Refunds within 30 days [1]. Annual plans are prorated [2][1]. See also ."
    )


def test_an_answer_citing_in_order_is_unchanged() -> None:
    answer = "- Bank transfer needs $5,000 a year [1]\n- Invoices are due in 30 days [2]"
    assert renumber_markers(answer, [1, 2]) == answer


def test_a_marker_naming_several_passages_cites_each() -> None:
    """Models also write ``[1, 3]``: each passage it names is cited, each gets its own marker."""
    answer = "Refunds take 5 to 10 days [3, 1]. Fees apply [1,3, 3]. Not a marker: [2, 2024]."
    order = cited_indexes(answer, n_passages=4)
    assert order == [3, 1]
    assert renumber_markers(answer, order) == (
        "Refunds take 5 to 10 days [1][2]. Fees apply [2][1]. Not a marker: [2, 2024]."
    )
    assert cited_indexes("Only [9, 2] here.", n_passages=4) == [2]
    assert renumber_markers("Only [9, 2] here.", [2]) == "Only [1] here."
