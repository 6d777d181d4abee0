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
