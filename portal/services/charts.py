"""Bar charts of budget against delivery, worked out here and drawn as SVG by macros/charts.html.

Pure Python: everything a template needs to draw a chart — geometry, words and the table of the
same data — without any arithmetic in the template. Values stay Decimal (quantities) or integer
pence (money) for every piece of text; floats are used only for pixel positions.

- Outputs by quarter: a bar per reported quarter and the quarter's target as a dashed marker. The
  target of a quarter follows the delivery definitions (portal/services/delivery.py): the measure's
  quarterly targets when it has any (a quarter without one has no target), otherwise the annual
  target ÷ 4 for a "sum" measure, or the annual target itself for a "latest" measure (a level to
  reach at each quarter end, not a share of a total).
- Cumulative spend: a bar per reported quarter of the reported spend to the end of that quarter,
  the award as a solid line and the spend profile to the end of each quarter as a dashed marker: the
  project's own profile, or the straight line (award × quarter ÷ 4) when it has none.
- Bars fed by a submitted but not yet approved return are provisional: hatched, and their value
  text says "(provisional)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from ..models.vocabulary import COMBINE_LATEST, QUARTERS
from ..money import format_pence
from ..quantities import format_quantity

if TYPE_CHECKING:  # only for annotations: delivery.py needs the database, this module does not
    from .delivery import MeasureFigures, ProjectDelivery


NOT_REPORTED = "not reported"
PROVISIONAL = "(provisional)"
CHART_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

# Geometry, in SVG user units (the SVG scales to its container through its viewBox).
WIDTH = 640
HEIGHT = 360
MARGIN_TOP = 48  # room for two lines of value text above a bar at the top of the scale
MARGIN_RIGHT = 16
MARGIN_BOTTOM = 40  # quarter labels
AXIS_TITLE_ROOM = 28  # the rotated axis title at the far left
CHAR_WIDTH = 8  # a generous width of a digit at font-size 14 in Arial
BAR_SHARE = 0.5  # of each quarter's slot
MARKER_SHARE = 0.8  # a target/profile marker reaches beyond the bar on both sides
LINE_HEIGHT = 16
FONT_SIZE = 14
LABEL_GAP = 6

# GOV.UK colours; each at least 3:1 against white (WCAG 1.4.11).
BAR_COLOUR = "#1d70b8"  # 5.2:1
MARKER_COLOUR = "#505a5f"  # 7.0:1
AWARD_COLOUR = "#d4351c"  # 4.5:1
TEXT_COLOUR = "#0b0c0c"
AXIS_COLOUR = "#0b0c0c"
GRID_COLOUR = "#b1b4b6"  # gridlines only help reading: every bar carries its value as text

# Nice scale maxima (× 10^n) and how many equal steps each divides into (4 or 5 nice steps).
NICE_STEPS = ((Decimal(1), 5), (Decimal(2), 4), (Decimal("2.5"), 5), (Decimal(5), 5))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the quarter: "Q1"
    value_text: str  # "274" or "274 (provisional)"; money as "£4,800.00"
    provisional: bool
    value: Decimal  # exact: a quantity, or pence for money
    label_y: float  # baseline of the last line of value text, clear of the bar and its marker

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 1)

    @property
    def value_lines(self) -> list[str]:
        """The value text as it is drawn: the figure, then "(provisional)" on a line of its own."""
        if self.provisional:
            return [self.value_text.removesuffix(" " + PROVISIONAL), PROVISIONAL]
        return [self.value_text]

    @property
    def value_line_ys(self) -> list[float]:
        lines = len(self.value_lines)
        return [round(self.label_y - LINE_HEIGHT * (lines - 1 - i), 1) for i in range(lines)]


@dataclass(frozen=True)
class Marker:
    """A short horizontal line across one quarter's slot: its target, or its spend profile."""

    x1: float
    x2: float
    y: float
    label: str  # "Q1"
    value: Decimal
    value_text: str


@dataclass(frozen=True)
class ReferenceLine:
    """A horizontal line across the whole plot, such as the award."""

    x1: float
    x2: float
    y: float
    value: Decimal
    text: str  # drawn beside the line: "Award £10,000.00"
    colour: str = AWARD_COLOUR


@dataclass(frozen=True)
class Tick:
    """A value on the y axis: its gridline and its label."""

    y: float
    value: Decimal
    text: str


@dataclass(frozen=True)
class XLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class LegendItem:
    kind: str  # "bar", "provisional", "marker" (dashed grey line) or "line" (solid red line)
    text: str


@dataclass(frozen=True)
class TableRow:
    label: str
    value_text: str
    comparison_text: str


@dataclass
class Chart:
    id: str  # unique on the page; the SVG's element ids are derived from it
    title: str
    description: str
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_right: float
    plot_bottom: float
    unit: str  # what the y axis counts: "people", or "£" for money
    y_axis_title: str
    scale_max: Decimal
    bars: list[Bar]
    markers: list[Marker]
    reference_lines: list[ReferenceLine]
    ticks: list[Tick]
    x_labels: list[XLabel]
    legend: list[LegendItem]
    value_heading: str  # table column headings
    comparison_heading: str
    rows: list[TableRow]  # the same data as a table: one row per quarter
    extra_rows: list[TableRow] = field(default_factory=list)  # e.g. the award

    @property
    def title_id(self) -> str:
        return f"{self.id}-title"

    @property
    def desc_id(self) -> str:
        return f"{self.id}-desc"

    @property
    def hatch_id(self) -> str:
        return f"{self.id}-hatch"

    @property
    def y_labels(self) -> list[str]:
        return [tick.text for tick in self.ticks]

    @property
    def has_provisional(self) -> bool:
        return any(bar.provisional for bar in self.bars)


# -- scale --------------------------------------------------------------------------------------


def nice_scale(maximum: Decimal, *, minimum_step: Decimal | None = None) -> tuple[Decimal, list[Decimal]]:
    """The smallest nice maximum (1, 2, 2.5 or 5 × 10^n) at or above `maximum`, and its 5 or 6 ticks
    from zero (4 or 5 gridlines above the axis). `minimum_step` keeps whole counts on whole ticks."""
    maximum = max(Decimal(maximum), Decimal(0))
    if minimum_step is not None:
        maximum = max(maximum, minimum_step * 5)
    if maximum == 0:
        maximum = Decimal(1)
    exponent = maximum.adjusted()
    for power in (exponent - 1, exponent, exponent + 1):
        for mantissa, steps in NICE_STEPS:
            top = mantissa.scaleb(power)
            step = top / steps
            if top >= maximum and (minimum_step is None or step >= minimum_step):
                ticks = [_plain(step * i) for i in range(steps + 1)]
                return _plain(top), ticks
    raise AssertionError("unreachable: 10^(exponent+1) is always at or above the maximum")  # pragma: no cover


def _plain(value: Decimal) -> Decimal:
    """2.50E+3 -> 2500, 0.50 -> 0.5: a Decimal without exponent or trailing zeros."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


# -- charts -------------------------------------------------------------------------------------


def quarter_targets(measure) -> list[Decimal | None]:
    """Each quarter's target for a measure (see the module docstring)."""
    quarterly = list(measure.quarterly_targets)
    if any(target is not None for target in quarterly):
        return [None if target is None else Decimal(target) for target in quarterly]
    if measure.annual_target is None:
        return [None] * 4
    annual = Decimal(measure.annual_target)
    each = annual if measure.combine == COMBINE_LATEST else annual / 4
    return [_plain(each)] * 4


def outputs_chart(figures: MeasureFigures, chart_id: str) -> Chart | None:
    """A measure's reported value by quarter against each quarter's target; None when the measure has
    nothing reported and no target."""
    _check_id(chart_id)
    measure = figures.measure
    values = [None if value is None else Decimal(value) for value in figures.quarters]
    targets = quarter_targets(measure)
    if all(value is None for value in values) and all(target is None for target in targets):
        return None
    provisional = [bool(figures.provisional[i]) and values[i] is not None for i in range(4)]
    known = [value for value in values + targets if value is not None]
    whole = not measure.allows_decimals and all(value == value.to_integral_value() for value in known)
    scale_max, tick_values = nice_scale(max(known), minimum_step=Decimal(1) if whole else None)

    name = measure.name
    unit = measure.unit
    value_texts = [
        _value_text(format_quantity(v), p) if v is not None else None for v, p in zip(values, provisional, strict=True)
    ]
    target_texts = [None if t is None else format_quantity(t) for t in targets]
    tick_texts = [format_quantity(t) for t in tick_values]
    geometry = _Geometry(tick_texts)
    chart = geometry.chart(
        chart_id,
        title=f"{name} by quarter against target",
        description=_outputs_description(name, measure, value_texts, targets, target_texts),
        unit=unit,
        y_axis_title=unit[:1].upper() + unit[1:],
        scale_max=scale_max,
        tick_values=tick_values,
        tick_texts=tick_texts,
        values=values,
        value_texts=value_texts,
        provisional=provisional,
        marker_values=targets,
        marker_texts=target_texts,
        value_heading=f"{name} ({unit})",
        comparison_heading="Target",
    )
    chart.legend = _outputs_legend(name, chart.has_provisional, bool(chart.markers))
    return chart


def _outputs_legend(name: str, has_provisional: bool, has_targets: bool) -> list[LegendItem]:
    legend = [LegendItem("bar", f"{name} reported in the quarter")]
    if has_provisional:
        legend.append(LegendItem("provisional", "Provisional: the return is submitted but not yet approved"))
    if has_targets:
        legend.append(LegendItem("marker", "Target for the quarter"))
    return legend


def spend_chart(delivery: ProjectDelivery, chart_id: str) -> Chart:
    """Cumulative reported spend to the end of each reported quarter against the award and the
    straight-line profile. Money is integer pence throughout; the text uses format_pence."""
    _check_id(chart_id)
    award = int(delivery.project.amount_pence or 0)
    values, provisional = _cumulative_spend(delivery)
    profiles = [Decimal(delivery.profile_to(quarter)) for quarter in QUARTERS]
    known = [value for value in values if value is not None] + profiles + [Decimal(award)]
    scale_max, tick_values = _spend_scale(known)

    value_texts = [
        None if v is None else _value_text(format_pence(int(v)), p) for v, p in zip(values, provisional, strict=True)
    ]
    profile_texts = [format_pence(int(profile)) for profile in profiles]
    tick_texts = [_money_tick(int(t)) for t in tick_values]
    geometry = _Geometry(tick_texts)
    chart = geometry.chart(
        chart_id,
        title="Cumulative spend against award",
        description=_spend_description(award, values, value_texts, profiles),
        unit="£",
        y_axis_title="Spend (£)",
        scale_max=scale_max,
        tick_values=tick_values,
        tick_texts=tick_texts,
        values=values,
        value_texts=value_texts,
        provisional=provisional,
        marker_values=profiles,
        marker_texts=profile_texts,
        value_heading="Cumulative spend",
        comparison_heading="Profile",
    )
    award_line = _award_line(geometry, award, scale_max)
    chart.reference_lines = [award_line]
    chart.bars = [_clear_of(bar, award_line.y) for bar in chart.bars]
    chart.extra_rows = [TableRow("Award", "", format_pence(award))]
    chart.legend = _spend_legend(award, chart.has_provisional, delivery.has_own_profile)
    return chart


def _cumulative_spend(delivery: ProjectDelivery) -> tuple[list[Decimal | None], list[bool]]:
    """Per quarter, the spend reported to its end (None when the quarter is not reported) and whether
    that includes a provisional return."""
    reported = set(delivery.reported_quarters)
    values: list[Decimal | None] = []
    provisional: list[bool] = []
    running, running_provisional = 0, False
    for quarter in QUARTERS:
        if quarter in reported:
            running += delivery.spend_in(quarter) or 0
            running_provisional = running_provisional or bool(delivery.is_provisional(quarter))
            values.append(Decimal(running))
            provisional.append(running_provisional)
        else:
            values.append(None)
            provisional.append(False)
    return values, provisional


def _spend_scale(known: list[Decimal]) -> tuple[Decimal, list[Decimal]]:
    """A nice scale in pence above every known amount, at least £1 so that the ticks are whole pence."""
    scale_max, tick_values = nice_scale(max(known), minimum_step=Decimal(1))
    if scale_max < 100:
        scale_max, tick_values = nice_scale(Decimal(100))
    return scale_max, tick_values


def _award_line(geometry: _Geometry, award: int, scale_max: Decimal) -> ReferenceLine:
    return ReferenceLine(
        x1=geometry.left,
        x2=geometry.right,
        y=geometry.y_of(Decimal(award), scale_max),
        value=Decimal(award),
        text=f"Award {format_pence(award)}",
    )


EVEN_PROFILE = "the award spread evenly over the four quarters"


def _spend_legend(award: int, has_provisional: bool, own_profile: bool) -> list[LegendItem]:
    legend = [LegendItem("bar", "Spend reported to the end of the quarter")]
    if has_provisional:
        legend.append(LegendItem("provisional", "Provisional: includes a return submitted but not yet approved"))
    profile = "the project's own, to the end of the quarter" if own_profile else EVEN_PROFILE
    return [*legend, LegendItem("marker", f"Profile: {profile}"), LegendItem("line", f"Award: {format_pence(award)}")]


# -- helpers ------------------------------------------------------------------------------------


def _clear_of(bar: Bar, line_y: float) -> Bar:
    """The bar with its value text moved above a reference line that the text would otherwise cross."""
    text_top = bar.label_y - LINE_HEIGHT * (len(bar.value_lines) - 1) - FONT_SIZE
    text_bottom = bar.label_y + LABEL_GAP
    if text_top - LABEL_GAP <= line_y <= text_bottom:
        return replace(bar, label_y=round(line_y - LABEL_GAP - 2, 1))
    return bar


def _check_id(chart_id: str) -> None:
    if not CHART_ID.match(chart_id or ""):
        raise ValueError(f"chart id {chart_id!r} must be a letter then letters, digits, '-' or '_'")


def _value_text(text: str, provisional: bool) -> str:
    return f"{text} {PROVISIONAL}" if provisional else text


def _money_tick(pence: int) -> str:
    """Whole pounds without pence ("£2,500"); exact pence otherwise."""
    return f"£{pence // 100:,}" if pence % 100 == 0 else format_pence(pence)


def _outputs_description(name, measure, value_texts, targets, target_texts) -> str:
    quarters = ", ".join(
        f"Q{q} {text if text is not None else NOT_REPORTED}" for q, text in zip(QUARTERS, value_texts, strict=True)
    )
    sentences = [f"{name} by quarter: {quarters}."]
    if all(target is None for target in targets):
        sentences.append("No target.")
    elif len(set(targets)) == 1:
        if measure.combine == COMBINE_LATEST and not any(t is not None for t in measure.quarterly_targets):
            sentences.append(f"Target {target_texts[0]} at each quarter end.")
        else:
            sentences.append(f"Target {target_texts[0]} a quarter.")
    else:
        parts = ", ".join(
            f"Q{q} {text if text is not None else 'none'}" for q, text in zip(QUARTERS, target_texts, strict=True)
        )
        sentences.append(f"Targets: {parts}.")
    if not any(text is not None for text in value_texts):
        sentences.append("Nothing reported yet.")
    return " ".join(sentences)


def _spend_description(award, values, value_texts, profiles) -> str:
    reported = [q for q, value in zip(QUARTERS, values, strict=True) if value is not None]
    if not reported:
        first = f"No spend reported yet against an award of {format_pence(award)}."
    else:
        last = reported[-1]
        spent = int(values[last - 1])
        first = (
            f"Cumulative spend {format_pence(spent)} by Q{last} against an award of {format_pence(award)} "
            f"(profile {format_pence(int(profiles[last - 1]))})."
        )
        if any(text.endswith(PROVISIONAL) for text in value_texts if text):
            first += " Includes provisional figures."
    quarters = ", ".join(
        f"Q{q} {text if text is not None else NOT_REPORTED}" for q, text in zip(QUARTERS, value_texts, strict=True)
    )
    return f"{first} By quarter: {quarters}."


class _Geometry:
    """Where things go: a plot area with room on the left for the longest tick label."""

    def __init__(self, tick_texts: list[str]):
        longest = max((len(text) for text in tick_texts), default=1)
        self.left = float(AXIS_TITLE_ROOM + LABEL_GAP * 2 + longest * CHAR_WIDTH)
        self.right = float(WIDTH - MARGIN_RIGHT)
        self.top = float(MARGIN_TOP)
        self.bottom = float(HEIGHT - MARGIN_BOTTOM)
        self.slot = (self.right - self.left) / 4

    def y_of(self, value: Decimal, scale_max: Decimal) -> float:
        return round(self.bottom - float(value / scale_max) * (self.bottom - self.top), 1)

    def chart(
        self,
        chart_id: str,
        *,
        title: str,
        description: str,
        unit: str,
        y_axis_title: str,
        scale_max: Decimal,
        tick_values: list[Decimal],
        tick_texts: list[str],
        values: list[Decimal | None],
        value_texts: list[str | None],
        provisional: list[bool],
        marker_values: Sequence[Decimal | None],
        marker_texts: Sequence[str | None],
        value_heading: str,
        comparison_heading: str,
    ) -> Chart:
        """The plot, one slot per quarter, and its table; the caller adds the legend and any reference line."""
        slot_markers = [
            None if value is None else self._marker(index, value, marker_texts[index], scale_max)
            for index, value in enumerate(marker_values)
        ]
        bars = [
            self._bar(index, value, value_texts[index], provisional[index], scale_max, slot_markers[index])
            for index, value in enumerate(values)
            if value is not None
        ]
        return Chart(
            id=chart_id,
            title=title,
            description=description,
            width=WIDTH,
            height=HEIGHT,
            plot_left=round(self.left, 1),
            plot_top=round(self.top, 1),
            plot_right=round(self.right, 1),
            plot_bottom=round(self.bottom, 1),
            unit=unit,
            y_axis_title=y_axis_title,
            scale_max=scale_max,
            bars=bars,
            markers=[marker for marker in slot_markers if marker is not None],
            reference_lines=[],
            ticks=self._ticks(tick_values, tick_texts, scale_max),
            x_labels=self._x_labels(),
            legend=[],
            value_heading=value_heading,
            comparison_heading=comparison_heading,
            rows=_table_rows(values, value_texts, marker_texts),
        )

    def _centre(self, index: int) -> float:
        """The middle of the slot of the quarter at `index`, unrounded."""
        slot_left = self.left + self.slot * index
        return slot_left + self.slot / 2

    def _marker(self, index: int, value: Decimal, text: str | None, scale_max: Decimal) -> Marker:
        centre = self._centre(index)
        half = self.slot * MARKER_SHARE / 2
        return Marker(
            x1=round(centre - half, 1),
            x2=round(centre + half, 1),
            y=self.y_of(value, scale_max),
            label=_quarter_label(index),
            value=value,
            value_text=text or "",
        )

    def _bar(
        self, index: int, value: Decimal, text: str | None, provisional: bool, scale_max: Decimal, marker: Marker | None
    ) -> Bar:
        width = round(self.slot * BAR_SHARE, 1)
        top = self.y_of(value, scale_max)
        return Bar(
            x=round(self._centre(index) - width / 2, 1),
            y=top,
            width=width,
            height=round(self.bottom - top, 1),
            label=_quarter_label(index),
            value_text=text or "",
            provisional=provisional,
            value=value,
            label_y=_value_baseline(top, marker),
        )

    def _ticks(self, values: list[Decimal], texts: list[str], scale_max: Decimal) -> list[Tick]:
        return [Tick(y=self.y_of(v, scale_max), value=v, text=t) for v, t in zip(values, texts, strict=True)]

    def _x_labels(self) -> list[XLabel]:
        return [
            XLabel(x=round(self._centre(index), 1), y=round(self.bottom + 24, 1), text=_quarter_label(index))
            for index in range(len(QUARTERS))
        ]


def _quarter_label(index: int) -> str:
    return f"Q{QUARTERS[index]}"


def _value_baseline(bar_top: float, marker: Marker | None) -> float:
    """Where a bar's value text sits: just above the bar, or above its marker when that is higher."""
    if marker is None:
        return round(bar_top - LABEL_GAP, 1)
    return round(min(bar_top, marker.y) - LABEL_GAP - 2, 1)


def _table_rows(
    values: Sequence[Decimal | None], value_texts: Sequence[str | None], comparison_texts: Sequence[str | None]
) -> list[TableRow]:
    """The chart's data as a table, a row per quarter."""
    return [
        TableRow(
            label=_quarter_label(index),
            value_text=NOT_REPORTED.capitalize() if values[index] is None else value_texts[index] or "",
            comparison_text=comparison_texts[index] or "",
        )
        for index in range(len(QUARTERS))
    ]
