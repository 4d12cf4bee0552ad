"""What the personal-data check flags in a narrative answer, and what it leaves alone."""

from __future__ import annotations

import ast
import re._parser as sre_parse  # the parser behind re; there is no public way to inspect a pattern's structure
from pathlib import Path

import pytest

from portal.services import personal_data
from portal.services.personal_data import LABELS, PATTERNS, Finding, find_personal_data, findings_for

# (text, kind, matched text): each text holds exactly one finding.
HITS: list[tuple[str, str, str]] = [
    # e-mail addresses
    ("Contact her at name@example.org for details.", "email", "name@example.org"),
    ("Her address is first.last+tag@sub.domain.co.uk.", "email", "first.last+tag@sub.domain.co.uk"),
    ("(j_smith1980@example.com)", "email", "j_smith1980@example.com"),
    ("Emailed support@davss.org.uk, no reply", "email", "support@davss.org.uk"),
    # phone numbers: mobiles
    ("Call 07700 900123 after six.", "phone", "07700 900123"),
    ("Her mobile is 07700900123.", "phone", "07700900123"),
    ("Text 07700-900-123 if safe.", "phone", "07700-900-123"),
    ("Text 07700 900 123 if safe.", "phone", "07700 900 123"),
    ("Reached on +44 7700 900123 yesterday", "phone", "+44 7700 900123"),
    ("Reached on +447700900123 yesterday", "phone", "+447700900123"),
    ("Reached on 0044 7700 900123 yesterday", "phone", "0044 7700 900123"),
    ("(07700 900123)", "phone", "07700 900123"),
    # phone numbers: landlines and freephone
    ("Ring +44 (0)20 7946 0958 today", "phone", "+44 (0)20 7946 0958"),
    ("Ring 020 7946 0958 today", "phone", "020 7946 0958"),
    ("Ring 02079460958 today", "phone", "02079460958"),
    ("Ring (020) 7946 0958 today", "phone", "(020) 7946 0958"),
    ("Her landline is 01732 123456.", "phone", "01732 123456"),
    ("Her landline is 01732-123456.", "phone", "01732-123456"),
    ("Ring 0113 496 0000 today", "phone", "0113 496 0000"),
    ("Ring (0113) 496 0000 today", "phone", "(0113) 496 0000"),
    ("Freephone 0800 123 4567 any time", "phone", "0800 123 4567"),
    ("Freephone 0800 123456 any time", "phone", "0800 123456"),
    ("The helpline, 0808 2000 247, is free", "phone", "0808 2000 247"),
    # postcodes
    ("She moved to SW1A 1AA last month.", "postcode", "SW1A 1AA"),
    ("Refuge near TN13 1AX.", "postcode", "TN13 1AX"),
    ("Address ME15 9QB", "postcode", "ME15 9QB"),
    ("Address BR8 7BU", "postcode", "BR8 7BU"),
    ("Address EC1A 1BB", "postcode", "EC1A 1BB"),
    ("Address W1A 0AX", "postcode", "W1A 0AX"),
    ("Address M1 1AE", "postcode", "M1 1AE"),
    ("Address B33 8TH", "postcode", "B33 8TH"),
    ("Address CR2 6XH", "postcode", "CR2 6XH"),
    ("Address DN55 1PT", "postcode", "DN55 1PT"),
    ("lives in tn131ax now", "postcode", "tn131ax"),
    ("lives at me15 9qb now", "postcode", "me15 9qb"),
    ("Address Tn13 1Ax", "postcode", "Tn13 1Ax"),
    # National Insurance numbers
    ("NI number AB 12 34 56 C on file", "ni_number", "AB 12 34 56 C"),
    ("NI number JG103759A on file", "ni_number", "JG103759A"),
    ("ni number jg 10 37 59 a on file", "ni_number", "jg 10 37 59 a"),
    ("NI number AB123456 D on file", "ni_number", "AB123456 D"),
    # dates that may be dates of birth
    ("She was born on 01/02/1980 in Kent.", "date", "01/02/1980"),
    ("Born 1/2/80.", "date", "1/2/80"),
    ("Born 01-02-1980.", "date", "01-02-1980"),
    ("Born 01.02.1980.", "date", "01.02.1980"),
    ("Born 1980-02-01.", "date", "1980-02-01"),
    ("Born 1 February 1980.", "date", "1 February 1980"),
    ("Born 1st Feb 1980.", "date", "1st Feb 1980"),
    ("Born 1st of February, 1980.", "date", "1st of February, 1980"),
    ("Born February 1, 1980.", "date", "February 1, 1980"),
    ("Born Sept 3rd 2001.", "date", "Sept 3rd 2001"),
    ("DOB 01/02/80", "date", "01/02/80"),
    ("She was born 3 March 2001 and is now 20.", "date", "3 March 2001"),
    ("born 3 march 2001", "date", "3 march 2001"),
    ("The hearing is on 12 May 2022.", "date", "12 May 2022"),
    # a title and a name
    ("We spoke to Mrs Smith about it.", "title_name", "Mrs Smith"),
    ("We spoke to Mr. J Smith about it.", "title_name", "Mr. J Smith"),
    ("Referred by Dr Jones.", "title_name", "Dr Jones"),
    ("Miss Jane Doe attended.", "title_name", "Miss Jane Doe"),
    ("Ms O'Brien and her children", "title_name", "Ms O'Brien"),
    ("Mx Taylor-Reid called back", "title_name", "Mx Taylor-Reid"),
    ("Letter from Prof. A. B. Green today", "title_name", "Prof. A. B. Green"),
    ("At Dr Jones' surgery", "title_name", "Dr Jones"),
    ("Mr Öztürk was rehoused", "title_name", "Mr Öztürk"),
    ("Mr and Mrs Smith were rehoused", "title_name", "Mrs Smith"),
    ("She wears Dr Martens.", "title_name", "Dr Martens"),  # can't tell a brand from a name; only a warning
    # street addresses with a house number
    ("She lives at 12 High Street now.", "address", "12 High Street"),
    ("Moved to 3a Station Road last week", "address", "3a Station Road"),
    ("Flat 2, 14 Elm Close was damaged", "address", "14 Elm Close"),
    ("The refuge at 40 St John's Hill is full", "address", "40 St John's Hill"),
    ("Seen at 7 Upper Holly Tree Avenue.", "address", "7 Upper Holly Tree Avenue"),
    ("Address: 221B Baker St, London", "address", "221B Baker St"),
    ("Address: 9 London Rd, Sevenoaks", "address", "9 London Rd"),
    ("He stays at 12, Mount Pleasant Lane", "address", "12, Mount Pleasant Lane"),
    ("Visit to 5 Orchard Mews.", "address", "5 Orchard Mews"),
]

# Ordinary narrative sentences that must raise no warning.
MISSES: list[str] = [
    "DAVSS supported 341 victims, an increase of 46 (13.4%) compared with 2020-21.",
    "Referrals in Q3 2021 rose to 234.",
    "The session ran from 10:00 to 14:32 on 29 June.",
    "We spent £2,500.00 in the quarter.",
    "Action 3.5 of the action plan",
    "Sevenoaks District Council",
    "West Kent Housing Association",
    "We worked with 1,062 young people in 2021-22.",
    "The budget of £34,218 was fully spent.",
    "In 2021 we answered 12345 calls.",
    "Referrals in Q2 2021 were lower than in April 2021.",
    "The quarter ran from 1 April - 30 June.",
    "On 1 April 21 people attended the drop-in.",
    "Outreach along the A1 and the M25 continued.",
    "Junction 5 of the M25 was closed.",
    "See section 1.2.10 of the action plan.",
    "Figures for 2021/22 are provisional; 3/4 of clients were women.",
    "Covid-19 restrictions eased in July.",
    "Pupils in Y6 2nd term sessions enjoyed the workshops.",
    "HMRC's example, QQ 12 34 56 C, is not a real number.",
    "Reference AB 12 34 56 without a suffix letter.",
    "Mrs A told her IDVA that she felt safer.",  # an anonymised initial
    "Mr X and his ex-partner were both referred.",
    "we spoke to mrs smith about it.",  # no capitals: not matched
    "The letter was addressed to the Mr",
    "Mr, Mrs, Ms, Mx and Dr are accepted titles.",
    "The form offers Mr Mrs Ms Mx Dr Prof as titles.",
    "The IDVA service has 0.5 FTE vacant.",
    "Case 2021/0456 was closed after 28 days.",
    "Our reference is 00123 and the grant is 2,000 a quarter.",
    "Calls to the helpline rose by 15% (from 1,200 to 1,380).",
    "Email and phone contact increased; nobody gave their address.",
    "We met at 9.30 on Tuesday and again at 14.00.",
    "Between 2019 and 2021 the service grew from 3 to 12 staff.",
    # near-misses for street addresses: counts, years, places without a house number, road names in titles
    "12 people attended the group on Station Road.",
    "We ran 3 sessions in Station Road.",
    "We held 4 Road Safety talks in schools.",
    "We attended 12 County Court hearings.",
    "2 Safe Place venues opened in the High Street.",
    "3 Country Park walks were led by volunteers.",
    "In 2021 High Street shops joined the scheme.",
    "Year 11 Drama Club performed twice.",
    "5 Kenward Trust staff were trained.",
    "The M25 Junction 5 Road works delayed us.",
    "Outreach on the London Road estate continued.",
    "12 high street shops took part.",  # lower case: not an address
    "Page 3 of the Safer Streets bid",
    "Q3 Station Road drop-in had 40 visitors.",
]


@pytest.mark.parametrize(("text", "kind", "matched"), HITS, ids=[f"{kind}:{matched}" for _, kind, matched in HITS])
def test_hits(text, kind, matched):
    findings = find_personal_data(text)
    assert [(f.kind, f.text) for f in findings] == [(kind, matched)]
    (finding,) = findings
    assert text[finding.start : finding.end] == finding.text
    assert finding.label == LABELS[kind]


@pytest.mark.parametrize("text", MISSES)
def test_misses(text):
    assert find_personal_data(text) == []


def test_every_kind_has_a_readable_label():
    assert LABELS == {
        "email": "an email address",
        "phone": "a phone number",
        "postcode": "a postcode",
        "ni_number": "a National Insurance number",
        "date": "a date that may be a date of birth",
        "title_name": "a name with a title",
        "address": "a street address",
    }
    assert {kind for _, kind, _ in HITS} == set(LABELS)
    assert {kind for kind, _ in PATTERNS} == set(LABELS)


def test_several_findings_come_in_order_of_appearance():
    text = (
        "Mrs Smith (DOB 01/02/1980) moved to TN13 1AX. Her mobile is 07700 900123, her email "
        "jane.smith@example.org and her NI number AB 12 34 56 C."
    )
    findings = find_personal_data(text)
    assert [(f.kind, f.text) for f in findings] == [
        ("title_name", "Mrs Smith"),
        ("date", "01/02/1980"),
        ("postcode", "TN13 1AX"),
        ("phone", "07700 900123"),
        ("email", "jane.smith@example.org"),
        ("ni_number", "AB 12 34 56 C"),
    ]
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text


def test_overlapping_matches_give_one_finding():
    # The digits are a phone number, but they are part of the e-mail address: one finding, the longer one.
    text = "Write to 07700900123@example.org please"
    assert [(f.kind, f.text) for f in find_personal_data(text)] == [("email", "07700900123@example.org")]


def test_repeated_findings_are_all_reported():
    text = "Mrs Smith, then Mrs Smith again."
    findings = find_personal_data(text)
    assert [(f.text, f.start) for f in findings] == [("Mrs Smith", 0), ("Mrs Smith", 16)]


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_no_text_no_findings(text):
    assert find_personal_data(text) == []


def test_findings_for_keeps_field_order():
    fields = {
        "progress": "We helped Mrs Smith move to TN13 1AX.",
        "case_study": None,
        "challenges": "",
        "risks": "Call 07700 900123 if the risk rises.",
        "anonymised": "Client A was safely rehoused.",
        "summary": "Contact name@example.org.",
    }
    assert [(name, f.kind, f.text) for name, f in findings_for(fields)] == [
        ("progress", "title_name", "Mrs Smith"),
        ("progress", "postcode", "TN13 1AX"),
        ("risks", "phone", "07700 900123"),
        ("summary", "email", "name@example.org"),
    ]
    reordered = dict(reversed(list(fields.items())))
    assert [name for name, _ in findings_for(reordered)] == ["summary", "risks", "progress", "progress"]
    assert findings_for({}) == []


def test_matched_text_is_the_exact_substring():
    text = "ring\u00a007700\u00a0900123, or Miss\nJane Doe at ME15\u00a09qb"
    findings = find_personal_data(text)
    assert [f.text for f in findings] == ["07700\u00a0900123", "Miss\nJane Doe", "ME15\u00a09qb"]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text


def test_a_finding_keeps_its_text_out_of_its_repr():
    # Matched text is personal data: printing or logging a Finding must not reveal it.
    (finding,) = find_personal_data("Call 07700 900123")
    assert finding == Finding(kind="phone", label="a phone number", text="07700 900123", start=5, end=17)
    assert "900123" not in repr(finding)


def test_the_module_cannot_log():
    tree = ast.parse(Path(personal_data.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "re", "dataclasses"}
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "print" not in called


def test_long_ordinary_text():
    prose = " ".join(MISSES) + " "
    text = prose * (100_000 // len(prose) + 1)
    assert len(text) >= 100_000
    assert find_personal_data(text) == []
    # A finding at the very end of a long text is still found, at the right place.
    findings = find_personal_data(text + "Call 07700 900123.")
    assert [(f.text, f.start) for f in findings] == [("07700 900123", len(text) + 5)]


# (text, what is found there as (kind, start, end)): long runs built to tempt a regex engine into backtracking.
PATHOLOGICAL: list[tuple[str, list[tuple[str, int, int]]]] = [
    ("0" * 100_000, []),
    ("7" * 100_000, []),
    ("a" * 100_000, []),
    ("a" * 100_000 + "@", []),
    ("a@" + "b" * 100_000, []),
    # One address, from the start to the last letter: the trailing hyphen cannot end a domain.
    ("a@b." + "c-" * 50_000, [("email", 0, 100_003)]),
    ("a." * 50_000 + "@example", []),
    ("1/" * 50_000, []),
    ("1-" * 50_000, []),
    ("0 " * 50_000, []),
    ("Mr " * 30_000, []),
    # "Mr AaMr AaMr": a title and two names; every later "Mr" is inside a word, so it starts no other name.
    ("Mr Aa" * 20_000, [("title_name", 0, 12)]),
    ("A1 " * 30_000, []),
    ("AB 12 " * 15_000, []),
    ("1 March " * 12_000, []),
    ("12 Aa Bb Cc Dd " * 7_000, []),
    ("1 " + "Aa " * 30_000, []),
]


# Each input takes well under a tenth of a second; a pattern that backtracked catastrophically would take hours.
# The signal method, not the suite's thread method: the regex engine checks for signals while it matches, so a
# regression fails this test alone, naming its input, and the run goes on.
@pytest.mark.timeout(5, method="signal")
@pytest.mark.parametrize(
    ("text", "expected"), PATHOLOGICAL, ids=[f"{text[:12]!r}x{len(text)}" for text, _ in PATHOLOGICAL]
)
def test_pathological_input_completes(text, expected):
    assert [(f.kind, f.start, f.end) for f in find_personal_data(text)] == expected


def _repeats(items):
    """(repeat node, its body) for every quantifier in a parsed pattern, however deeply nested."""
    for op, argument in items:
        if op.name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            yield op, argument[2]
        yield from _repeats_in(argument)


def _repeats_in(argument):
    if isinstance(argument, sre_parse.SubPattern):
        yield from _repeats(argument)
    elif isinstance(argument, list | tuple):
        for part in argument:
            if isinstance(part, sre_parse.SubPattern | list | tuple):
                yield from _repeats_in(part)


@pytest.mark.parametrize(("kind", "pattern"), PATTERNS, ids=[f"{kind}-{i}" for i, (kind, _) in enumerate(PATTERNS)])
def test_no_nested_quantifiers(kind, pattern):
    # Catastrophic backtracking needs a quantifier over something that can itself match in more than one way.
    # None of the patterns has a quantifier inside a quantified group, so none can backtrack catastrophically.
    tree = sre_parse.parse(pattern.pattern, pattern.flags)
    for _, body in _repeats(tree):
        assert list(_repeats(body)) == [], f"a quantifier inside a quantified group in the {kind} pattern"
