"""Parse the many date formats news comes in into aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

MAX_DATE_CHARS = 200  # no date is longer; free-text parsing of a longer string is only slow


def parse_date(value: object) -> datetime | None:
    """ISO 8601, RFC 822 (feeds), epoch numbers and free text ("March 3, 2025"); naive means UTC.

    None for anything that is not a date, never an exception (NaN, an epoch out of range, junk)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
        else:
            text = str(value).strip()
            if not text or len(text) > MAX_DATE_CHARS:
                return None
            dt = _parse_text(text)
            if dt is None:
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError, TypeError, ArithmeticError):
        return None  # NaN, infinity, an epoch or an offset that takes the date out of range


def _parse_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    import dateparser  # slow to import: only for free-text dates

    try:
        return dateparser.parse(
            text,
            settings={"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "PREFER_DAY_OF_MONTH": "first"},
        )
    except Exception:  # noqa: BLE001 - dateparser raises several types on junk; junk is not a date
        return None
