"""Spot what looks like personal data in a narrative answer, so the partner can check it before submitting.

This is a warning, not a filter: it errs towards flagging, and the partner confirms that the answers contain no
personal information. The matched text is itself personal data, so nothing here logs, prints or stores it; a
Finding's text is also kept out of its repr, so it cannot reach a log through an f-string or a traceback.

Every pattern is built so that it cannot backtrack catastrophically: no quantifier applies to anything that
itself contains a quantifier (tests/test_personal_data.py checks this on the parsed patterns), and the patterns
that could start anywhere in a run of characters (e-mail addresses) may start only at the beginning of one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LABELS: dict[str, str] = {
    "email": "an email address",
    "phone": "a phone number",
    "postcode": "a postcode",
    "ni_number": "a National Insurance number",
    "date": "a date that may be a date of birth",
    "title_name": "a name with a title",
    "address": "a street address",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of LABELS
    label: str  # what a person reads, e.g. "a phone number"
    text: str = field(repr=False)  # the matched text, exactly as written; personal data, so never in a repr
    start: int
    end: int


# --- E-mail addresses -------------------------------------------------------------------------------------------
# The local part may start only where a run of local-part characters starts, so a long run costs one pass.
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]*[A-Za-z]")

# --- UK phone numbers -------------------------------------------------------------------------------------------
# A trunk (0, +44, 0044, +44 (0), or an opening bracket before the 0), then the national number in one of the
# usual groupings, each separator a single optional space, no-break space or hyphen. The closing bracket after the
# area code is required exactly when the number opened one. A number must not be preceded or followed by another
# digit (or a decimal point/comma and a digit), so counts, sums of money and years never match: they lack the
# leading 0 and the length.
_SEP = r"[ \u00a0-]?"
_CLOSE = r"(?(1)\))" + _SEP
_PHONE = re.compile(
    r"(?<![\w.,£$€])"
    r"(?:(?:\+|00)44\s?(?:\(0\))?\s?|(\()?0)"
    r"(?:"
    rf"[1-9]\d{{3}}{_CLOSE}\d{{3}}{_SEP}\d{{2,3}}"  # 07700 900123, 07700 900 123, 01732 123456, 01732 12345
    rf"|[1-9]\d{{2}}{_CLOSE}\d{{3}}{_SEP}\d{{3,4}}"  # 0113 496 0000, 0800 123 4567, 0800 123 456
    rf"|[1-9]\d{{2}}{_CLOSE}\d{{4}}{_SEP}\d{{3}}"  # 0808 2000 247
    rf"|[1-9]\d{_CLOSE}\d{{4}}{_SEP}\d{{4}}"  # 020 7946 0958
    r")"
    r"(?!\d|[.,]\d)"
)

# --- UK postcodes -----------------------------------------------------------------------------------------------
# Outward code: area (first letter not Q, V, X; second not I, J, Z), district digit, optional digit or letter.
# Inward code: a digit and two letters (never C, I, K, M, O, V), so "Q3 2021", "A1", "M25" and "3.5" cannot match.
# An inward code that reads as a lower-case ordinal ("KS2 3rd", "Y6 2nd") is not a postcode; "B33 8TH" still is.
_GAP = r"[ \u00a0]?"
_POSTCODE = re.compile(
    r"\b[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?" + _GAP + r"\d(?!(?-i:st|nd|rd|th)\b)[ABD-HJLNP-UW-Z]{2}\b",
    re.IGNORECASE,
)

# --- National Insurance numbers ---------------------------------------------------------------------------------
# HMRC's prefix rules: first letter not D, F, I, Q, U, V; second not D, F, I, O, Q, U, V; not BG, GB, KN, NK, NT,
# TN or ZZ. Six digits, optionally in pairs, and a final letter A-D. (So HMRC's own example prefix QQ is rejected.)
_NI_NUMBER = re.compile(
    r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    + _GAP
    + r"\d{2}"
    + _GAP
    + r"\d{2}"
    + _GAP
    + r"\d{2}"
    + _GAP
    + r"[A-D]\b",
    re.IGNORECASE,
)

# --- Dates that may be dates of birth ---------------------------------------------------------------------------
# Only a full date (day, month and year) is flagged: "April 2021", "Q2 2021", "2021-22" and "1 April - 30 June"
# are how reports name periods. A date with a month name needs a four-digit year, so "On 1 April 21 people came"
# is not a date; with dots a numeric date needs a four-digit year, so section numbers such as "1.2.10" are not.
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"
_MONTH_NAME = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:tember|t)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_NUMERIC_START = r"(?<![\w/.])"
_NUMERIC_END = r"(?![\w/]|[.-]\d)"
_DATES = (
    # 01/02/1980, 1/2/80, 01-02-1980 (the same separator twice)
    re.compile(_NUMERIC_START + _DAY + r"([/-])" + _MONTH_NUMBER + r"\1(?:19|20)?\d{2}" + _NUMERIC_END),
    # 01.02.1980
    re.compile(_NUMERIC_START + _DAY + r"\." + _MONTH_NUMBER + r"\." + _YEAR + _NUMERIC_END),
    # 1980-02-01
    re.compile(_NUMERIC_START + _YEAR + r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])" + _NUMERIC_END),
    # 1 February 1980, 1st Feb 1980, 1st of February, 1980
    re.compile(
        r"(?<![\w.,£$€])" + _DAY + _ORDINAL + r"\s(?:of\s)?" + _MONTH_NAME + r",?\s" + _YEAR + r"(?!\d)",
        re.IGNORECASE,
    ),
    # February 1, 1980, Feb 1st 1980
    re.compile(r"\b" + _MONTH_NAME + r"\s" + _DAY + _ORDINAL + r",?\s" + _YEAR + r"(?!\d)", re.IGNORECASE),
)

# --- A title followed by a name ---------------------------------------------------------------------------------
# Case-sensitive: the title and the name must be capitalised ("mrs smith" is not matched). Up to two initials, then
# one or two names of at least two letters, so an anonymised "Mrs A" or "Mr X" is not flagged.
_UPPER = "A-ZÀ-ÖØ-Þ\u0100-\u017f"
_LETTER = "A-Za-zÀ-ÖØ-öø-ÿ\u0100-\u017f"
_TITLE = r"(?:Mrs|Mr|Ms|Miss|Mx|Dr|Prof)"
_NAME = rf"(?!{_TITLE}\b)[{_UPPER}][{_LETTER}'’-]*[{_LETTER}]"  # a title is not a name: "Mr, Mrs and Ms"
_INITIAL = rf"(?:[{_UPPER}]\.\s|[{_UPPER}]\s)?"
_TITLE_NAME = re.compile(rf"\b{_TITLE}\.?\s" + _INITIAL + _INITIAL + rf"(?:{_NAME}\s{_NAME}|{_NAME})(?![{_LETTER}])")

# --- Street addresses with a house number ------------------------------------------------------------------------
# A house number (1 to 3 digits, optionally one letter: "12", "3a"), then one to three capitalised words, then a
# street word ("12 High Street", "3a Station Road", "40 St John's Hill"). The words between must be capitalised and
# follow the number directly, so counts ("12 people", "3 sessions in Station Road") and years ("2021 High Street
# shops": four digits) are not addresses. Court, Place, Park and Green are left out of the street words: "12 County
# Court hearings", "2 Safe Place venues" and "3 Country Park walks" are how reports count things.
_STREET_WORD = (
    r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Close|Drive|Way|Crescent|Gardens|Terrace|Grove|Hill|Square"
    r"|Mews|Row|Walk|Rise)"
)
_STREET_NAME = rf"[{_UPPER}][{_LETTER}'’-]*[{_LETTER}]"
_ADDRESS = re.compile(
    r"(?<![\w.,£$€/#-])[1-9]\d{0,2}[A-Za-z]?,?\s"
    + rf"(?:{_STREET_NAME}\s{_STREET_NAME}\s{_STREET_NAME}|{_STREET_NAME}\s{_STREET_NAME}|{_STREET_NAME})"
    + rf"\s{_STREET_WORD}(?![{_LETTER}])"
)

# In order of preference when two findings start at the same place and are as long as each other.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", _EMAIL),
    ("ni_number", _NI_NUMBER),
    ("phone", _PHONE),
    ("postcode", _POSTCODE),
    *(("date", pattern) for pattern in _DATES),
    ("title_name", _TITLE_NAME),
    ("address", _ADDRESS),
)


def find_personal_data(text: str | None) -> list[Finding]:
    """Everything in text that looks like personal data, in order of appearance, no two findings overlapping.

    Where matches overlap, the one that starts first wins, then the longer one (an e-mail address containing
    digits is one finding, not an e-mail address and a phone number).
    """
    if not text:
        return []
    candidates = [
        (match.start(), -match.end(), rank, kind, match.group())
        for rank, (kind, pattern) in enumerate(PATTERNS)
        for match in pattern.finditer(text)
    ]
    candidates.sort()
    findings: list[Finding] = []
    covered_to = 0
    for start, negative_end, _rank, kind, matched in candidates:
        if start < covered_to:
            continue
        findings.append(Finding(kind=kind, label=LABELS[kind], text=matched, start=start, end=-negative_end))
        covered_to = -negative_end
    return findings


def findings_for(fields: dict[str, str | None]) -> list[tuple[str, Finding]]:
    """(field name, finding) for every finding in every field, fields in the order given."""
    return [(name, finding) for name, value in fields.items() for finding in find_personal_data(value)]
