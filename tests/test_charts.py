"""Bar charts of outputs against target and cumulative spend against award, drawn as SVG."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from portal.models import MonitoringReturn, OutputMeasure, Project
from portal.models.monitoring_return import APPROVED, DRAFT, SUBMITTED
from portal.services import charts
from portal.services.charts import nice_scale, outputs_chart, spend_chart
from portal.services.delivery import MeasureFigures, ProjectDelivery

SVG = "{http://www.w3.org/2000/svg}"
D = Decimal


def figures(
    quarters=(203, 274, None, None),
    *,
    provisional=(False, False, False, False),
    name="Referrals",
    unit="people",
    combine="sum",
    annual_target=900,
    quarterly_targets=None,
) -> MeasureFigures:
    measure = OutputMeasure(
        name=name,
        unit=unit,
        combine=combine,
        annual_target=None if annual_target is None else D(annual_target),
    )
    measure.quarterly_targets = [None if t is None else D(t) for t in quarterly_targets] if quarterly_targets else None
    values = [None if v is None else D(str(v)) for v in quarters]
    return MeasureFigures(measure, values, list(provisional))


def delivery(spends: dict[int, tuple[str, int | None]], award_pence: int = 1_000_000) -> ProjectDelivery:
    """spends: quarter -> (status, spend in pence)."""
    project = Project(name="Support for victims", amount_pence=award_pence)
    returns = {
        quarter: MonitoringReturn(quarter=quarter, status=status, spend_pence=pence)
        for quarter, (status, pence) in spends.items()
    }
    return ProjectDelivery(project=project, returns=returns, measures=[])


def plot_height(chart) -> float:
    return chart.plot_bottom - chart.plot_top


# -- scale --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maximum", "top", "step"),
    [
        ("203", "250", "50"),
        ("274", "500", "100"),
        ("250", "250", "50"),
        ("900", "1000", "200"),
        ("1001", "2000", "500"),
        ("0.3", "0.5", "0.1"),
        ("4800", "5000", "1000"),
        ("1000000", "1000000", "200000"),
        ("0", "1", "0.2"),
    ],
)
def test_nice_scale_picks_1_2_2_5_or_5_times_a_power_of_ten(maximum, top, step):
    scale_max, ticks = nice_scale(D(maximum))
    assert scale_max == D(top)
    assert ticks[0] == 0 and ticks[-1] == D(top)
    assert all(b - a == D(step) for a, b in itertools.pairwise(ticks))


def test_nice_scale_always_gives_four_or_five_gridlines_and_whole_steps_for_counts():
    for maximum in [*range(0, 130), 999, 1000, 1001, 2501, 49_999, 123_456_789]:
        scale_max, ticks = nice_scale(D(maximum), minimum_step=D(1))
        assert scale_max >= maximum
        assert 4 <= len(ticks) - 1 <= 5
        assert all(tick == tick.to_integral_value() for tick in ticks)
        mantissa = scale_max.scaleb(-scale_max.adjusted())
        assert mantissa in (1, 2, D("2.5"), 5)
    assert nice_scale(D(3), minimum_step=D(1)) == (D(5), [0, 1, 2, 3, 4, 5])


# -- outputs by quarter -------------------------------------------------------------------------


def test_bar_heights_are_proportional_to_the_values():
    chart = outputs_chart(figures((203, 274, 100, None)), "referrals")
    assert chart.scale_max == 500
    assert [bar.label for bar in chart.bars] == ["Q1", "Q2", "Q3"]
    for bar, value in zip(chart.bars, (203, 274, 100), strict=True):
        assert bar.height == pytest.approx(plot_height(chart) * value / 500, abs=0.1)
        assert bar.y + bar.height == pytest.approx(chart.plot_bottom, abs=0.1)
        assert bar.value == value
    assert chart.bars[1].height / chart.bars[0].height == pytest.approx(274 / 203, rel=1e-3)
    assert [bar.value_text for bar in chart.bars] == ["203", "274", "100"]
    # the bars sit in their own quarter, left to right, inside the plot
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs) and xs[0] > chart.plot_left and xs[-1] + chart.bars[-1].width < chart.plot_right
    assert [label.text for label in chart.x_labels] == ["Q1", "Q2", "Q3", "Q4"]


def test_ticks_label_the_scale_from_zero_at_the_axis_to_the_top_of_the_plot():
    chart = outputs_chart(figures((203, 180, None, None)), "referrals")
    assert chart.scale_max == 250
    assert chart.y_labels == ["0", "50", "100", "150", "200", "250"]
    assert chart.ticks[0].y == chart.plot_bottom
    assert chart.ticks[-1].y == chart.plot_top
    assert chart.unit == "people" and chart.y_axis_title == "People"


def test_the_annual_target_divided_by_four_is_each_quarters_target():
    chart = outputs_chart(figures(annual_target=900), "referrals")
    assert [marker.value for marker in chart.markers] == [225] * 4
    assert [marker.value_text for marker in chart.markers] == ["225"] * 4
    assert [marker.label for marker in chart.markers] == ["Q1", "Q2", "Q3", "Q4"]
    for marker, bar in zip(chart.markers, chart.bars, strict=False):
        assert marker.y == pytest.approx(chart.plot_bottom - plot_height(chart) * 225 / float(chart.scale_max), abs=0.1)
        assert marker.x1 < bar.x and marker.x2 > bar.x + bar.width  # visible beside the bar too
    assert ("marker", "Target for the quarter") in [(item.kind, item.text) for item in chart.legend]
    assert [row.comparison_text for row in chart.rows] == ["225"] * 4


def test_quarterly_targets_win_over_the_annual_target_and_a_quarter_without_one_has_no_marker():
    chart = outputs_chart(figures(annual_target=900, quarterly_targets=[200, 250, 300, None]), "referrals")
    assert [(marker.label, marker.value) for marker in chart.markers] == [("Q1", 200), ("Q2", 250), ("Q3", 300)]
    assert chart.scale_max == 500  # the scale reaches the highest target as well as the highest bar
    assert chart.description.endswith("Targets: Q1 200, Q2 250, Q3 300, Q4 none.")
    assert [row.comparison_text for row in chart.rows] == ["200", "250", "300", ""]


def test_a_target_above_every_value_stretches_the_scale():
    chart = outputs_chart(figures((10, 12, None, None), annual_target=4800), "calls")
    assert chart.scale_max == 2000
    assert chart.markers[0].y < chart.bars[1].y


def test_a_latest_measure_has_its_annual_target_as_the_level_to_reach_each_quarter():
    chart = outputs_chart(
        figures((35, 41, None, None), name="Cases open", unit="cases", combine="latest", annual_target=40), "cases"
    )
    assert [marker.value for marker in chart.markers] == [40] * 4
    assert chart.description == "Cases open by quarter: Q1 35, Q2 41, Q3 not reported, Q4 not reported. " + (
        "Target 40 at each quarter end."
    )


def test_the_description_says_the_figures_in_words():
    chart = outputs_chart(figures((203, 274, None, None)), "referrals")
    assert chart.title == "Referrals by quarter against target"
    assert chart.description == (
        "Referrals by quarter: Q1 203, Q2 274, Q3 not reported, Q4 not reported. Target 225 a quarter."
    )
    without_target = outputs_chart(figures((5, None, 7, None), name="Male referrals", annual_target=None), "male")
    assert without_target.description == (
        "Male referrals by quarter: Q1 5, Q2 not reported, Q3 7, Q4 not reported. No target."
    )
    assert without_target.markers == []
    assert "marker" not in [item.kind for item in without_target.legend]


def test_provisional_quarters_are_marked_on_the_bar_in_the_text_and_in_the_legend():
    chart = outputs_chart(figures((203, 274, None, None), provisional=(False, True, False, False)), "referrals")
    q1, q2 = chart.bars
    assert not q1.provisional and q1.value_text == "203" and q1.value_lines == ["203"]
    assert q2.provisional and q2.value_text == "274 (provisional)"
    assert q2.value_lines == ["274", "(provisional)"]
    assert q2.value_line_ys[0] < q2.value_line_ys[1] <= q2.label_y
    assert "Q2 274 (provisional)" in chart.description
    assert chart.rows[1].value_text == "274 (provisional)"
    assert chart.has_provisional
    assert "provisional" in [item.kind for item in chart.legend]
    # a quarter's provisional flag without a reported value draws nothing
    unreported = outputs_chart(figures((203, None, None, None), provisional=(False, True, False, False)), "r")
    assert not unreported.has_provisional
    assert "provisional" not in [item.kind for item in unreported.legend]


def test_value_text_sits_above_both_the_bar_and_its_marker():
    chart = outputs_chart(figures((100, 240, None, None), annual_target=900), "referrals")
    for bar, marker in zip(chart.bars, chart.markers, strict=False):
        assert bar.label_y < min(bar.y, marker.y)
    assert chart.bars[0].label_y < chart.markers[0].y  # the marker (225) is above the Q1 bar (100)
    assert chart.bars[1].label_y < chart.bars[1].y  # the Q2 bar (240) is above its marker


def test_hours_keep_their_decimals_exactly():
    chart = outputs_chart(
        figures(("7.5", "12.25", None, None), name="Outreach hours", unit="hours", annual_target=None), "hours"
    )
    assert [bar.value_text for bar in chart.bars] == ["7.50", "12.25"]
    assert [bar.value for bar in chart.bars] == [D("7.5"), D("12.25")]
    assert chart.scale_max == 20


def test_nothing_reported_and_no_target_gives_no_chart():
    assert outputs_chart(figures((None, None, None, None), annual_target=None), "empty") is None


def test_nothing_reported_with_a_target_draws_the_targets_alone():
    chart = outputs_chart(figures((None, None, None, None), annual_target=900), "referrals")
    assert chart.bars == []
    assert len(chart.markers) == 4
    assert chart.description == (
        "Referrals by quarter: Q1 not reported, Q2 not reported, Q3 not reported, Q4 not reported. "
        "Target 225 a quarter. Nothing reported yet."
    )
    assert [row.value_text for row in chart.rows] == ["Not reported"] * 4


def test_reported_zeros_draw_flat_bars_with_their_value():
    chart = outputs_chart(figures((0, 0, None, None), annual_target=None), "zeros")
    assert chart.scale_max == 5
    assert [bar.height for bar in chart.bars] == [0, 0]
    assert [bar.value_text for bar in chart.bars] == ["0", "0"]


def test_a_chart_id_must_be_safe_to_use_as_an_element_id():
    for bad in ("", "1st", "a b", 'x" onload="y', "a<b"):
        with pytest.raises(ValueError, match="chart id"):
            outputs_chart(figures(), bad)
        with pytest.raises(ValueError, match="chart id"):
            spend_chart(delivery({}), bad)


# -- cumulative spend ---------------------------------------------------------------------------


def test_spend_bars_are_exact_cumulative_sums_of_the_reported_quarters():
    chart = spend_chart(delivery({1: (APPROVED, 250_000), 2: (APPROVED, 230_000)}), "spend")
    assert [bar.label for bar in chart.bars] == ["Q1", "Q2"]
    assert [bar.value for bar in chart.bars] == [250_000, 480_000]
    assert [bar.value_text for bar in chart.bars] == ["£2,500.00", "£4,800.00"]
    assert chart.description.startswith(
        "Cumulative spend £4,800.00 by Q2 against an award of £10,000.00 (profile £5,000.00)."
    )
    assert chart.description.endswith("By quarter: Q1 £2,500.00, Q2 £4,800.00, Q3 not reported, Q4 not reported.")
    assert chart.title == "Cumulative spend against award"
    assert chart.bars[1].height == pytest.approx(plot_height(chart) * 480_000 / float(chart.scale_max), abs=0.1)


def test_spend_in_pence_is_never_rounded():
    chart = spend_chart(delivery({1: (APPROVED, 10), 2: (APPROVED, 20), 3: (APPROVED, 1)}, award_pence=100), "s")
    assert [bar.value_text for bar in chart.bars] == ["£0.10", "£0.30", "£0.31"]
    assert chart.scale_max == 100  # at least £1
    assert chart.y_labels == ["£0", "£0.20", "£0.40", "£0.60", "£0.80", "£1"]


def test_the_award_is_a_line_across_the_plot_and_the_profile_a_marker_per_quarter():
    chart = spend_chart(delivery({1: (APPROVED, 250_000)}, award_pence=1_200_000), "spend")
    assert chart.scale_max == 2_000_000
    (award,) = chart.reference_lines
    assert award.value == 1_200_000
    assert award.text == "Award £12,000.00"
    assert award.colour == "#d4351c"
    assert (award.x1, award.x2) == (chart.plot_left, chart.plot_right)
    assert award.y == pytest.approx(chart.plot_bottom - plot_height(chart) * 0.6, abs=0.1)
    assert [marker.value for marker in chart.markers] == [300_000, 600_000, 900_000, 1_200_000]
    assert [marker.value_text for marker in chart.markers] == ["£3,000.00", "£6,000.00", "£9,000.00", "£12,000.00"]
    assert chart.markers[3].y == award.y
    assert chart.y_labels == ["£0", "£5,000", "£10,000", "£15,000", "£20,000"]
    assert [item.kind for item in chart.legend] == ["bar", "marker", "line"]
    assert [(row.label, row.value_text, row.comparison_text) for row in chart.rows] == [
        ("Q1", "£2,500.00", "£3,000.00"),
        ("Q2", "Not reported", "£6,000.00"),
        ("Q3", "Not reported", "£9,000.00"),
        ("Q4", "Not reported", "£12,000.00"),
    ]
    assert [(row.label, row.comparison_text) for row in chart.extra_rows] == [("Award", "£12,000.00")]


def test_spend_beyond_the_award_stretches_the_scale():
    chart = spend_chart(delivery({1: (APPROVED, 600_000), 2: (APPROVED, 600_000)}), "spend")
    assert chart.scale_max == 2_000_000
    assert chart.bars[1].y < chart.reference_lines[0].y


def test_only_reported_quarters_count_and_a_later_bar_includes_earlier_ones():
    chart = spend_chart(
        delivery({1: (APPROVED, 250_000), 2: (DRAFT, 999_999), 3: (APPROVED, 100_000), 4: (APPROVED, None)}), "s"
    )
    assert [(bar.label, bar.value) for bar in chart.bars] == [("Q1", 250_000), ("Q3", 350_000), ("Q4", 350_000)]
    assert chart.description.startswith(
        "Cumulative spend £3,500.00 by Q4 against an award of £10,000.00 (profile £10,000.00)."
    )
    assert "Q2 not reported" in chart.description


def test_a_submitted_return_makes_its_cumulative_bar_and_the_later_ones_provisional():
    chart = spend_chart(delivery({1: (APPROVED, 250_000), 2: (SUBMITTED, 230_000), 3: (APPROVED, 100_000)}), "spend")
    assert [bar.provisional for bar in chart.bars] == [False, True, True]
    assert [bar.value_text for bar in chart.bars] == ["£2,500.00", "£4,800.00 (provisional)", "£5,800.00 (provisional)"]
    assert "Includes provisional figures." in chart.description
    assert [item.kind for item in chart.legend] == ["bar", "provisional", "marker", "line"]


def test_value_text_never_crosses_the_award_line():
    chart = spend_chart(delivery({1: (APPROVED, 250_000), 2: (APPROVED, 230_000), 3: (SUBMITTED, 400_000)}), "spend")
    (award,) = chart.reference_lines
    q3 = chart.bars[2]
    assert q3.y > award.y  # £8,800.00 is below the £10,000.00 award
    assert q3.label_y < award.y  # so both lines of its text go above the line
    assert q3.value_line_ys[0] > 0
    for bar in chart.bars:
        top = bar.value_line_ys[0] - 14
        assert not top <= award.y <= bar.label_y + 4


def test_no_spend_reported_yet():
    chart = spend_chart(delivery({1: (DRAFT, 250_000)}), "spend")
    assert chart.bars == []
    assert chart.description.startswith("No spend reported yet against an award of £10,000.00.")
    assert len(chart.markers) == 4 and len(chart.reference_lines) == 1
    assert spend_chart(delivery({}, award_pence=0), "nothing").scale_max == 100


# -- colours ------------------------------------------------------------------------------------


def contrast_with_white(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def test_bars_markers_and_the_award_line_contrast_at_least_3_to_1_with_white():
    for colour in (charts.BAR_COLOUR, charts.MARKER_COLOUR, charts.AWARD_COLOUR, charts.AXIS_COLOUR):
        assert contrast_with_white(colour) >= 3
    assert (charts.BAR_COLOUR, charts.MARKER_COLOUR, charts.AWARD_COLOUR) == ("#1d70b8", "#505a5f", "#d4351c")


# -- rendering ----------------------------------------------------------------------------------


def macros(app):
    return app.jinja_env.get_template("macros/charts.html").module


def parse(markup: str) -> ET.Element:
    # The fragment is well-formed XML as well as HTML; it is our own output, not untrusted input.
    return ET.fromstring(f"<root>{markup}</root>")  # noqa: S314


def test_the_chart_renders_as_an_accessible_svg_image(app):
    chart = outputs_chart(figures((203, 274, None, None), provisional=(False, True, False, False)), "referrals")
    markup = str(macros(app).bar_chart(chart))
    svg = parse(markup).find(f".//{SVG}svg[@role='img']")
    assert svg is not None
    assert svg.get("viewBox") == "0 0 640 360"
    assert svg.get("focusable") == "false"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}" == "referrals-title referrals-desc"
    assert title.text == "Referrals by quarter against target"
    assert desc.text == chart.description
    # two bars (one hatched), four dashed targets, the tick labels, the quarters and the values
    rects = [r for r in svg.iter(f"{SVG}rect") if r.get("fill") in ("#1d70b8", "url(#referrals-hatch)")]
    assert len(rects) == 2
    assert any(r.get("fill") == "url(#referrals-hatch)" for r in rects)
    dashed = [line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 4 and {line.get("stroke") for line in dashed} == {"#505a5f"}
    texts = ["".join(t.itertext()).strip() for t in svg.iter(f"{SVG}text")]
    for expected in ("0", "500", "Q1", "Q4", "203", "274(provisional)", "People"):
        assert expected in texts
    assert all(t.get("font-family") == "arial, sans-serif" and t.get("font-size") for t in svg.iter(f"{SVG}text"))
    # the legend is visible HTML, with a shape for each colour
    legend = [" ".join("".join(li.itertext()).split()) for li in parse(markup).iter("li")]
    assert legend == [
        "Referrals reported in the quarter",
        "Provisional: the return is submitted but not yet approved",
        "Target for the quarter",
    ]


def test_the_chart_obeys_the_content_security_policy(app):
    chart = spend_chart(delivery({1: (APPROVED, 250_000), 2: (SUBMITTED, 230_000)}), "spend")
    markup = str(macros(app).bar_chart(chart)) + str(macros(app).chart_table(chart))
    assert "style=" not in markup.lower()
    assert "<style" not in markup.lower()
    assert "<script" not in markup.lower()
    assert not re.search(r"\son[a-z]+=", markup)  # no event handlers
    assert 'stroke="#d4351c"' in markup and "Award £10,000.00" in markup


def test_text_in_the_chart_is_escaped(app):
    chart = outputs_chart(figures((1, None, None, None), name='<b>"Bold"</b> & co', annual_target=None), "x")
    markup = str(macros(app).bar_chart(chart))
    assert "<b>" not in markup
    assert "&lt;b&gt;" in markup
    parse(markup)


def test_two_charts_on_one_page_have_unique_ids(app):
    module = macros(app)
    first = outputs_chart(figures(), "measure-1")
    second = outputs_chart(figures(name="Helpline calls", unit="calls", annual_target=4800), "measure-2")
    third = spend_chart(delivery({1: (SUBMITTED, 250_000)}), "spend")
    page = "".join(str(module.bar_chart(chart)) for chart in (first, second, third))
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) == 9  # title, desc and hatch pattern for each
    for labelledby in re.findall(r'aria-labelledby="([^"]+)"', page):
        assert all(part in ids for part in labelledby.split())
    for reference in re.findall(r"url\(#([^)]+)\)", page):
        assert reference in ids


def test_the_table_gives_the_same_data_with_the_title_as_caption(app):
    chart = spend_chart(delivery({1: (APPROVED, 250_000), 2: (SUBMITTED, 230_000)}), "spend")
    table = parse(str(macros(app).chart_table(chart))).find("table")
    assert "govuk-table" in table.get("class")
    assert table.find("caption").text == "Cumulative spend against award"
    assert ["".join(th.itertext()) for th in table.find("thead").iter("th")] == [
        "Quarter",
        "Cumulative spend",
        "Profile",
    ]
    rows = [["".join(cell.itertext()) for cell in tr] for tr in table.find("tbody").iter("tr")]
    assert rows == [
        ["Q1", "£2,500.00", "£2,500.00"],
        ["Q2", "£4,800.00 (provisional)", "£5,000.00"],
        ["Q3", "Not reported", "£7,500.00"],
        ["Q4", "Not reported", "£10,000.00"],
        ["Award", "", "£10,000.00"],
    ]
    outputs = parse(str(macros(app).chart_table(outputs_chart(figures(), "referrals")))).find("table")
    assert outputs.find("caption").text == "Referrals by quarter against target"
    assert ["".join(th.itertext()) for th in outputs.find("thead").iter("th")] == [
        "Quarter",
        "Referrals (people)",
        "Target",
    ]
