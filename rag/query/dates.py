"""Relative dates in a question ("yesterday", "last week", "in March", "since Monday", "two days ago"),
resolved against the date the question is asked (`as_of`) into the range of publication dates to search.

Only phrases that clearly name a time do: a month counts when a preposition introduces it ("in may",
"since March") or it names an event ("its April meeting"), never alone ("may", "march" are verbs too);
"recently" and "latest" order results by date instead of filtering them (see rag.query.read).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from rag.text import MONTHS, WEEKDAYS


@dataclass(frozen=True)
class DateRange:
    """Publication dates from `since` to `until`, both included, and the phrase that named them."""

    since: date
    until: date
    phrase: str

    def describe(self) -> str:
        if self.since == self.until:
            return _day(self.since)
        if self.since.year == self.until.year:
            if self.since.month == self.until.month:
                return f"{self.since.day}-{_day(self.until)}"
            return f"{self.since.day} {calendar.month_name[self.since.month]} - {_day(self.until)}"
        return f"{_day(self.since)} - {_day(self.until)}"


def _day(d: date) -> str:
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "few": 3,
    "couple of": 2,
}
_COUNT = r"(?P<n>\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|couple of)"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_MONTH = "|".join(m.capitalize() for m in MONTHS)
_WEEKDAY = "|".join(d.capitalize() for d in WEEKDAYS)
# "early", "mid-", "late" before a month: its first, middle or last ten days or so
_PART = r"(?:(?P<part{0}>early|mid|late)(?:\s+|-\s*|\s*-\s*))?"
_PART_DAYS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}
_MONTH_EVENT = "|".join(m.capitalize() for m in MONTHS if m not in ("march", "may")) + "|(?-i:March|May)"

# Tried in order; the first that matches decides. Each gives (since, until) from the match and as_of.
_PATTERNS: list[tuple[re.Pattern, str]] = [
    (
        re.compile(rf"\b(?:in|over|during|within)\s+the\s+(?:past|last)\s+{_COUNT}\s+{_UNIT}\b", re.I),
        "past_n",
    ),
    (re.compile(rf"\b(?:over|in|during)\s+the\s+(?:past|last)\s+{_UNIT}\b", re.I), "past_one"),
    (re.compile(rf"\b{_COUNT}\s+{_UNIT}\s+ago\b", re.I), "ago"),
    (re.compile(r"\b(?:yesterday|last\s+night)\b", re.I), "yesterday"),
    # lower case only: "Today" mid-sentence is a name ("USA Today", "Business Today"); so is "the today show"
    (
        re.compile(
            r"\b(?<!usa\s)(?:today|tonight)\b(?!\s+(?:show|programme|program)\b)|"
            r"\bthis\s+(?:morning|afternoon|evening)\b"
        ),
        "today",
    ),
    (re.compile(r"\b(?:this|the)\s+(?:past\s+)?weekend\b|\bover\s+the\s+weekend\b", re.I), "weekend"),
    (re.compile(r"\blast\s+weekend\b", re.I), "last_weekend"),
    (re.compile(r"\blast\s+week\b", re.I), "last_week"),
    (re.compile(r"\bthis\s+week\b", re.I), "this_week"),
    (re.compile(r"\blast\s+month\b", re.I), "last_month"),
    (re.compile(r"\bthis\s+month\b", re.I), "this_month"),
    (re.compile(r"\blast\s+year\b", re.I), "last_year"),
    (re.compile(r"\bthis\s+year\b", re.I), "this_year"),
    (re.compile(rf"\bsince\s+(?:last\s+)?(?P<weekday>{_WEEKDAY})\b", re.I), "since_weekday"),
    # "from mid-November into December", "between October and December": a span of months
    (
        re.compile(
            rf"\b(?:from|between)\s+{_PART.format('')}(?P<month>{_MONTH})\b(?!\s+\d)\s+"
            rf"(?:to|through|thru|into|until|till|and)\s+{_PART.format('2')}(?P<month2>{_MONTH})\b(?!\s+\d)",
            re.I,
        ),
        "month_span",
    ),
    (
        re.compile(rf"\bsince\s+{_PART.format('')}(?P<month>{_MONTH})\b(?!\s+\d)", re.I),
        "since_month",
    ),
    # not "on Saturday Night Live": a capitalised word after the day makes it a name
    (re.compile(rf"\b(?:on|last)\s+(?P<weekday>{_WEEKDAY})\b(?!\s+(?-i:[A-Z]))", re.I), "weekday"),
    (
        re.compile(
            rf"\b(?:in|during|throughout|through|over)\s+(?:early\s+|mid-?\s*|late\s+)?(?P<month>{_MONTH})"
            r"\b(?!\s+\d{1,2}\b)(?:\s+(?P<year>\d{4})\b)?",
            re.I,
        ),
        "month",
    ),
    # "its April meeting", "the September vote": a month naming an event (not "the march", a noun)
    (
        re.compile(rf"\b(?:its|their|his|her|the|this|last)\s+(?P<month>{_MONTH_EVENT})(?=\s+[a-z])", re.I),
        "month",
    ),
]


def _count(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBERS[text]


def _back(as_of: date, n: int, unit: str) -> date:
    unit = unit.lower()
    if unit == "day":
        return as_of - timedelta(days=n)
    if unit == "week":
        return as_of - timedelta(weeks=n)
    months = as_of.year * 12 + as_of.month - 1 - (n if unit == "month" else 12 * n)
    year, month = divmod(months, 12)
    return date(year, month + 1, min(as_of.day, calendar.monthrange(year, month + 1)[1]))


def _last_weekday(as_of: date, name: str) -> date:
    """The most recent day of that name, `as_of` itself included."""
    return as_of - timedelta(days=(as_of.weekday() - WEEKDAYS.index(name.lower())) % 7)


def _last_month(as_of: date, name: str, year: str | None) -> tuple[date, date]:
    """The month of that name: in `year` if given, else the most recent one that has begun."""
    month = MONTHS.index(name.lower()) + 1
    y = int(year) if year else (as_of.year if month <= as_of.month else as_of.year - 1)
    return date(y, month, 1), date(y, month, calendar.monthrange(y, month)[1])


def _part(month: tuple[date, date], part: str | None) -> tuple[date, date]:
    """The days of the month an "early", "mid-" or "late" names (all of it for none)."""
    if not part:
        return month
    first, last = _PART_DAYS[part.lower()]
    return month[0].replace(day=first), month[1].replace(day=min(last, month[1].day))


def resolve(text: str, as_of: date) -> DateRange | None:
    """The publication dates a question's relative date phrase names, or None when it names none."""
    for pattern, rule in _PATTERNS:
        m = pattern.search(text)
        if m:
            try:
                since, until = _apply(rule, m, as_of)
            except (OverflowError, ValueError):  # before 1 January of year 1: no such dates
                return None
            return DateRange(since, min(until, as_of) if since <= as_of else until, m.group(0))
    return None


def _apply(rule: str, m: re.Match, as_of: date) -> tuple[date, date]:
    monday = as_of - timedelta(days=as_of.weekday())
    if rule == "past_n":
        return _back(as_of, _count(m.group("n")), m.group("unit")), as_of
    if rule == "past_one":
        return _back(as_of, 1, m.group("unit")), as_of
    if rule == "ago":
        day = _back(as_of, _count(m.group("n")), m.group("unit"))
        unit = m.group("unit").lower()
        if unit == "day":
            return day, day
        if unit == "week":
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=6)
        if unit == "month":
            return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if rule == "yesterday":
        return as_of - timedelta(days=1), as_of - timedelta(days=1)
    if rule == "today":
        return as_of, as_of
    if rule in ("weekend", "last_weekend"):
        saturday = as_of - timedelta(days=(as_of.weekday() - 5) % 7)
        if rule == "last_weekend" and as_of - saturday < timedelta(days=2):
            saturday -= timedelta(days=7)  # asked during a weekend, "last weekend" is the one before
        return saturday, saturday + timedelta(days=1)
    if rule == "last_week":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if rule == "this_week":
        return monday, as_of
    if rule == "last_month":
        end = as_of.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if rule == "this_month":
        return as_of.replace(day=1), as_of
    if rule == "last_year":
        return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)
    if rule == "this_year":
        return date(as_of.year, 1, 1), as_of
    if rule == "since_weekday":
        return _last_weekday(as_of - timedelta(days=1), m.group("weekday")), as_of
    if rule == "since_month":
        return _part(_last_month(as_of, m.group("month"), None), m.group("part"))[0], as_of
    if rule == "month_span":
        end = _part(_last_month(as_of, m.group("month2"), None), m.group("part2"))[1]
        first = _last_month(end, m.group("month"), None)  # the most recent one begun by the span's end
        return _part(first, m.group("part"))[0], end
    if rule == "weekday":
        day = _last_weekday(as_of, m.group("weekday"))
        return day, day
    if rule == "month":
        return _last_month(as_of, m.group("month"), m.groupdict().get("year"))
    raise ValueError(rule)
