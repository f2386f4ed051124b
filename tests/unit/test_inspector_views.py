"""The inspector's pure views: pages bounded with a clear error."""

from __future__ import annotations

import pytest

from mock_server.errors import InvalidParams
from mock_server.inspector.views import Page, page_params, paginate


def test_page_defaults_and_bounds() -> None:
    assert page_params({}) == Page(offset=0, limit=50)
    assert page_params({"offset": "100", "limit": "500"}) == Page(offset=100, limit=500)


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "501"}, {"offset": "-1"}, {"offset": "x"}])
def test_a_bad_page_names_the_parameter_and_the_range(query: dict[str, str]) -> None:
    (name,) = query
    with pytest.raises(InvalidParams, match=rf"^{name}: .* must be an integer in \["):
        page_params(query)


def test_paginate_says_whether_more_follow() -> None:
    assert paginate(list(range(5)), Page(offset=2, limit=2)) == ([2, 3], True)
    assert paginate(list(range(4)), Page(offset=2, limit=2)) == ([2, 3], False)
