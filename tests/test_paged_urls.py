"""Every paged list reads its page and filters from the URL; a hand-edited or stale address (letters, a minus, a
digit that is not ASCII, a number too big for the database) shows a page, never a server error."""

from __future__ import annotations

import pytest

ODD = ["abc", "-3", "0", "\u00b2", "\u0661", "9" * 30, "1e3", ""]
PAGED = [
    ("csu", "/csu/2021-22/?page={}"),
    ("csu", "/csu/2021-22/?priority={}"),
    ("csu", "/csu/2021-22/priorities?page={}"),
    ("csu", "/csu/2021-22/priorities?priority={}"),
    ("csu", "/csu/reviews?page={}"),
    ("csu", "/csu/due?page={}"),
    ("csu", "/csu/2021-22/annual-report?page={}"),
    ("finance", "/finance/2021-22/?page={}"),
    ("finance", "/finance/2021-22/reconciliation?page={}"),
    ("finance", "/finance/2021-22/ledger?page={}"),
]


@pytest.mark.parametrize(("who", "path"), PAGED)
def test_an_odd_page_or_filter_in_the_address_shows_a_page(client, two_orgs, login, who, path):
    login(client, two_orgs[who])
    for value in ODD:
        response = client.get(path.format(value))
        assert response.status_code == 200, (path.format(value), response.status_code)
