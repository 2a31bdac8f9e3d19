"""Thai-locale reading of KPI cells: Thai digits, Buddhist-era dates and the Thai fiscal year.

District staff type numbers and dates the way they write them on paper: Thai digits, BE years,
abbreviated Thai months, a unit after the number.  This module turns all of that into plain floats
and CE ``date`` objects -- or refuses with a bilingual message the staff member can act on, because
a silently wrong KPI value does more harm than a rejected cell.

Only the standard library is imported: every cell of every district workbook passes through here.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from numbers import Real

__all__ = [
    "BE_DATE_FORMAT",
    "BE_OFFSET",
    "THAI_DIGITS",
    "THAI_MONTHS",
    "THAI_MONTHS_ABBR",
    "ThaiParseError",
    "excel_serial",
    "find_dates",
    "fiscal_period",
    "fiscal_year",
    "fiscal_year_end",
    "fiscal_year_start",
    "format_thai_date",
    "format_thai_date_short",
    "from_excel_serial",
    "normalize_digits",
    "parse_date",
    "parse_int",
    "parse_number",
    "quarter",
    "quarter_end",
    "quarter_start",
    "to_be",
    "to_ce",
    "to_thai_digits",
]

BE_OFFSET = 543
"""Buddhist era year = Common era year + 543 (the Thai calendar has started the year in January since 1941)."""

_MIN_BE_YEAR = 2400
"""A 4-digit year at or above this is read as BE: no KPI is dated before CE 1857 or after CE 2399."""

BE_DATE_FORMAT = "[$-107041E]d mmmm yyyy;@"
"""Excel number format: keeps the cell a real date while showing it with a Thai month and BE year."""

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_TO_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")

# Text pasted from web pages and LINE carries invisible characters that ``str.strip`` keeps.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ODD_SPACES = "\t\n\r\v\f\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_CLEAN = {
    **THAI_DIGITS,
    **{ord(c): None for c in _ZERO_WIDTH},
    **{ord(c): " " for c in _ODD_SPACES},
    ord("\u2212"): "-",  # MINUS SIGN, which Word's autocorrect produces
}

THAI_MONTHS: tuple[str, ...] = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)
THAI_MONTHS_ABBR: tuple[str, ...] = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Misspellings common enough in district reports to accept rather than bounce.
_MONTH_TYPOS = {"กรกฏาคม": 7, "กุมภาพันธ": 2}


class ThaiParseError(ValueError):
    """A cell that cannot be read safely, explained in Thai first and English second.

    Carries the offending ``text`` and what was ``expected`` so validators can build their own
    problem report; ``str()`` is already fit to show to district staff.  ``expected`` may be given
    as ``(thai, english)`` or as one string ``"thai / english"``.
    """

    def __init__(
        self,
        text: str,
        expected: str | tuple[str, str],
        *,
        what: tuple[str, str] = ("ตัวเลข", "a number"),
        advice: tuple[str, str] | None = None,
    ) -> None:
        if isinstance(expected, tuple):
            expected_th, expected_en = expected
        elif " / " in expected:
            expected_th, expected_en = expected.split(" / ", 1)
        else:
            expected_th = expected_en = expected
        # args are exactly the positional constructor arguments so that pickling (multiprocessing)
        # rebuilds the error; the keyword-only parts travel in __dict__.
        super().__init__(text, (expected_th, expected_en))
        self.text = text
        self.expected_th = expected_th
        self.expected_en = expected_en
        self.expected = expected_th if expected_th == expected_en else f"{expected_th} / {expected_en}"
        self.what_th, self.what_en = what
        self.advice_th, self.advice_en = advice or (f"กรอกเป็น{expected_th}", f"type {expected_en}")

    @property
    def message_th(self) -> str:
        return f'อ่านค่า "{_shown(self.text)}" เป็น{self.what_th}ไม่ได้ — {self.advice_th}'

    @property
    def message_en(self) -> str:
        return f'cannot read "{_shown(self.text)}" as {self.what_en} — {self.advice_en}'

    def __str__(self) -> str:
        return f"{self.message_th} / {self.message_en}"


def _shown(text: str, limit: int = 60) -> str:
    """Keep messages one line and short enough for a cell comment, even for a pasted paragraph."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Years and the fiscal calendar
# ---------------------------------------------------------------------------------------------


def to_be(year_ce: int) -> int:
    """CE → BE; workbooks and staff talk in BE, Python's ``date`` only knows CE."""
    return year_ce + BE_OFFSET


def to_ce(year_be: int) -> int:
    """BE → CE, the inverse of :func:`to_be`."""
    return year_be - BE_OFFSET


def fiscal_year(d: date) -> int:
    """BE fiscal year of ``d``: October already belongs to the next year's budget."""
    return d.year + BE_OFFSET + (1 if d.month >= 10 else 0)


def quarter(d: date) -> int:
    """Fiscal quarter 1..4 of ``d``; quarter 1 is October–December, not January–March."""
    return (d.month - 10) % 12 // 3 + 1


def fiscal_period(d: date) -> tuple[int, int]:
    """``(fiscal_year, quarter)`` in one call, the key every report is filed under."""
    return fiscal_year(d), quarter(d)


_QUARTER_START = {1: (10, 1), 2: (1, 1), 3: (4, 1), 4: (7, 1)}
_QUARTER_END = {1: (12, 31), 2: (3, 31), 3: (6, 30), 4: (9, 30)}


def _check_fiscal_year(fy_be: int) -> int:
    """Refuse CE years here: passing 2021 for 2564 would silently shift every deadline by 543 years."""
    if isinstance(fy_be, bool) or not isinstance(fy_be, int):
        raise ValueError(f"fiscal year must be a BE int such as 2564, got {fy_be!r}")
    if fy_be < _MIN_BE_YEAR:
        raise ValueError(f"fiscal year {fy_be} looks like a CE year; pass BE (CE + 543), e.g. {to_be(fy_be)}")
    return fy_be


def _check_quarter(q: int) -> int:
    if isinstance(q, bool) or not isinstance(q, int) or q not in _QUARTER_START:
        raise ValueError(f"quarter must be 1, 2, 3 or 4, got {q!r}")
    return q


def quarter_start(fy_be: int, q: int) -> date:
    """First day of quarter ``q`` of BE fiscal year ``fy_be`` (quarter 1 starts in the previous CE year)."""
    year_ce = to_ce(_check_fiscal_year(fy_be)) - (1 if _check_quarter(q) == 1 else 0)
    month, day = _QUARTER_START[q]
    return date(year_ce, month, day)


def quarter_end(fy_be: int, q: int) -> date:
    """Last day of quarter ``q`` of BE fiscal year ``fy_be``, inclusive, for deadline checks."""
    year_ce = to_ce(_check_fiscal_year(fy_be)) - (1 if _check_quarter(q) == 1 else 0)
    month, day = _QUARTER_END[q]
    return date(year_ce, month, day)


def fiscal_year_start(fy_be: int) -> date:
    """1 October of the previous year, when the budget year ``fy_be`` opens."""
    return quarter_start(fy_be, 1)


def fiscal_year_end(fy_be: int) -> date:
    """30 September, when the budget year ``fy_be`` closes."""
    return quarter_end(fy_be, 4)


# ---------------------------------------------------------------------------------------------
# Digits and numbers
# ---------------------------------------------------------------------------------------------


def normalize_digits(s: str) -> str:
    """Thai digits → ASCII digits, so that ``float`` and regexes see one kind of digit."""
    return s.translate(THAI_DIGITS)


def to_thai_digits(s: str) -> str:
    """ASCII digits → Thai digits, for labels printed on official forms."""
    return s.translate(_TO_THAI_DIGITS)


_EXPECT_NUMBER = ("ตัวเลข เช่น 10", "a number such as 10")
_EXPECT_ONE_NUMBER = (
    "ตัวเลขเพียงค่าเดียว เช่น 10 (ถ้ามีหลายค่าให้แยกช่อง)",
    "a single number such as 10 (put separate values in separate cells)",
)
_EXPECT_FULL_NUMBER = (
    'ตัวเลขเต็มจำนวนโดยไม่ใช้คำบอกหลัก เช่น 1500000 แทน "1.5 ล้าน"',
    'the full number without a multiplier word, e.g. 1500000 instead of "1.5 ล้าน"',
)
_EXPECT_WHOLE = ("จำนวนเต็ม เช่น 10", "a whole number such as 10")
_EXPECT_FINITE = ("ตัวเลขปกติ เช่น 10", "an ordinary finite number such as 10")

# Excel error values, as openpyxl/calamine hand them back in place of the formula's result.
_EXCEL_ERRORS: dict[str, tuple[str, str]] = {
    "#DIV/0!": ("หารด้วยศูนย์", "a division by zero"),
    "#N/A": ("หาค่าที่ค้นไม่พบ", "a lookup that found nothing"),
    "#VALUE!": ("ใช้ข้อความในการคำนวณ", "text used in arithmetic"),
    "#REF!": ("อ้างถึงเซลล์ที่ถูกลบไปแล้ว", "a reference to a deleted cell"),
    "#NAME?": ("ชื่อฟังก์ชันหรือชื่อช่วงที่ไม่รู้จัก", "an unknown function or range name"),
    "#NUM!": ("ผลคำนวณที่เป็นตัวเลขไม่ได้", "a calculation with no numeric result"),
    "#NULL!": ("ช่วงเซลล์ที่ไม่ตัดกัน", "ranges that do not intersect"),
    "#SPILL!": ("ผลลัพธ์ที่ล้นทับเซลล์อื่น", "a result that spills onto filled cells"),
    "#CALC!": ("การคำนวณที่ Excel ทำไม่ได้", "a calculation Excel cannot do"),
    "#GETTING_DATA": ("ข้อมูลที่ยังโหลดไม่เสร็จ", "data still loading"),
}

_NUMBER_RE = re.compile(r"([+-]?) *(?:([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]*))?|\.([0-9]+))")
_DIGIT_RUN_RE = re.compile(r"\d+(?:[.,]\d+)*")
_ANY_DIGIT_RE = re.compile(r"\d")  # Unicode-wide on purpose: Lao or Arabic digits in a remark are still digits
# A remark starting with one of these continues the number ("5-6", "1.2.3", "5-" SAP-style minus, "5/").
_NUMERIC_PUNCT = frozenset("+-.,/:;=<>*^×÷#_\\|&@$'\"")
# "1.5 ล้าน" is 1,500,000, not 1.5: a multiplier after the number must never be read as a unit.
_MULTIPLIER_RE = re.compile(
    r"(?:ล้าน|แสน|หมื่น|พัน(?!ธ)|ร้อย(?!ละ|เอ็ด)|สิบ|โกฏิ"
    r"|(?i:k|kb|mn|mil|mill|million|millions|bn|billion|billions|thousand|thousands|lakh)(?![^\W\d_])"
    r"|(?:M|MM|B)(?![^\W\d_]))"
)


def _split_number(value: str) -> tuple[str, str, str] | None:
    """Validate number text and return ``(sign, integer_digits, fraction_digits)``; None when blank.

    Shared by :func:`parse_number` and :func:`parse_int` so integers never round-trip through float.
    """
    text = value.translate(_CLEAN).strip()
    if not text:
        return None
    m = _NUMBER_RE.match(text)
    if m is None:
        if text.upper() in _EXCEL_ERRORS:
            code = text.upper()
            cause_th, cause_en = _EXCEL_ERRORS[code]
            raise ThaiParseError(
                value,
                (f"ตัวเลข ไม่ใช่ข้อผิดพลาดของสูตร Excel ({code})", f"a number, not an Excel formula error ({code})"),
                advice=(
                    f"เซลล์นี้เป็นข้อผิดพลาดของสูตร ({cause_th}) แก้สูตรหรือกรอกเป็นตัวเลข เช่น 10",
                    f"the cell holds a formula error ({cause_en}); fix the formula or type a number such as 10",
                ),
            )
        # "(5)" or "ร้อยละ 87" hold one number behind text; "ได้ 5 และ 6" holds two.
        several = len(_DIGIT_RUN_RE.findall(text)) > 1
        raise ThaiParseError(value, _EXPECT_ONE_NUMBER if several else _EXPECT_NUMBER)
    rest = text[m.end():]
    if rest:
        tail = rest.lstrip()
        if _ANY_DIGIT_RE.search(tail):
            raise ThaiParseError(value, _EXPECT_ONE_NUMBER)
        if tail[0] in _NUMERIC_PUNCT:
            raise ThaiParseError(value, _EXPECT_NUMBER)
        if _MULTIPLIER_RE.match(tail):
            raise ThaiParseError(value, _EXPECT_FULL_NUMBER)
    sign, int_digits, frac_digits, frac_only = m.groups()
    if frac_only is not None:
        return sign, "0", frac_only
    return sign, int_digits.replace(",", ""), frac_digits or ""


def _not_a_number(value: object) -> ThaiParseError:
    if isinstance(value, date):
        # Excel turns "5/6" or "1-2" into a date as it is typed; the number the staff meant is gone.
        return ThaiParseError(
            str(value),
            ("ตัวเลข แต่ Excel แปลงค่านี้เป็นวันที่", "a number, but Excel turned this entry into a date"),
            advice=(
                "จัดรูปแบบเซลล์เป็นตัวเลขแล้วกรอกใหม่ เช่น 10",
                "format the cell as Number and type it again, e.g. 10",
            ),
        )
    return ThaiParseError(str(value), _EXPECT_NUMBER)


def parse_number(value: object) -> float | None:
    """Read a cell as a number the way a person would, or raise rather than guess.

    Blank (None, "", whitespace, NaN from pandas) is ``None`` so callers can tell "missing" from
    "wrong".  Text may use Thai digits, thousands commas and stray (even invisible) spaces, and may
    end with a unit or remark without digits ("87 %", "5 ระดับ", "5.00 (ระดับ)").  Anything that
    could hide a different number -- two numbers, ranges, multiplier words, formula errors, dates --
    raises :class:`ThaiParseError`.
    """
    kind = type(value)
    if kind is float:
        return _finite_or_none(value)  # type: ignore[arg-type]
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    if value is None:
        return None
    if isinstance(value, str):
        parts = _split_number(value)
        if parts is None:
            return None
        sign, int_digits, frac_digits = parts
        return float(f"{sign}{int_digits}.{frac_digits}")
    if isinstance(value, bool) or isinstance(value, date):
        raise _not_a_number(value)
    if isinstance(value, Decimal | Real):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise _not_a_number(value) from None
        return _finite_or_none(number, value)
    raise _not_a_number(value)


def _finite_or_none(number: float, original: object = None) -> float | None:
    if math.isfinite(number):
        return number
    if number != number:  # NaN is how pandas spells an empty cell
        return None
    raise ThaiParseError(str(number if original is None else original), _EXPECT_FINITE)


def parse_int(value: object) -> int | None:
    """Like :func:`parse_number` for counts and codes: "5.00" is 5, "5.5" is an error, never 5.

    String input is converted digit by digit, so long codes keep every digit.
    """
    if isinstance(value, str):
        parts = _split_number(value)
        if parts is None:
            return None
        sign, int_digits, frac_digits = parts
        if frac_digits.strip("0"):
            raise ThaiParseError(value, _EXPECT_WHOLE, what=("จำนวนเต็ม", "a whole number"))
        return int(sign + int_digits)
    if type(value) is int:
        return value
    number = parse_number(value)
    if number is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # int subclasses (numpy ints): skip the float to keep big values exact
    if not number.is_integer():
        raise ThaiParseError(str(value), _EXPECT_WHOLE, what=("จำนวนเต็ม", "a whole number"))
    return int(number)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_WHAT_DATE = ("วันที่", "a date")
_EXAMPLE_DATE = "23 ธันวาคม 2563"
_EXPECT_DATE = (f'วันที่ เช่น "{_EXAMPLE_DATE}"', f'a date such as "{_EXAMPLE_DATE}"')
_EXPECT_DATE_WITH_YEAR = (f'วันที่พร้อมปี เช่น "{_EXAMPLE_DATE}"', f'a date with its year, such as "{_EXAMPLE_DATE}"')


_MARKS_RE = re.compile(r"[\s.]")


def _strip_marks(token: str) -> str:
    return _MARKS_RE.sub("", token)


_MONTH_LOOKUP: dict[str, int] = {
    **{name: i for i, name in enumerate(THAI_MONTHS, 1)},
    **_MONTH_TYPOS,
    **{_strip_marks(abbr): i for i, abbr in enumerate(THAI_MONTHS_ABBR, 1)},
}


def _abbr_pattern(abbr: str) -> str:
    """ "ธ.ค." → matches "ธ.ค.", "ธ.ค", "ธค", "ธ. ค." -- staff drop or space the dots freely."""
    first, second = (part for part in abbr.split(".") if part)
    return rf"{re.escape(first)}\.?\s?{re.escape(second)}\.?"


_MONTH_PATTERN = "|".join(
    [re.escape(name) for name in sorted([*THAI_MONTHS, *_MONTH_TYPOS], key=len, reverse=True)]
    + [_abbr_pattern(abbr) for abbr in THAI_MONTHS_ABBR]
)
_DAY_MONTH = r"(?P<day>[0-9]{1,2})\s*(?:เดือน\s*)?(?P<month>" + _MONTH_PATTERN + r")"
_YEAR = r"(?:\s*,?\s*(?:ปี\s*)?(?:(?P<era>[พค])\.?\s?ศ\.?\s*)?(?P<year>[0-9]{4}|[0-9]{2})(?![0-9]))"
_TIME = r"(?:\s*(?:,|เวลา)?\s*[0-9]{1,2}[:.][0-9]{2}(?:[:.][0-9]{2}(?:\.[0-9]+)?)?\s*(?:น\.?)?)?"
_WEEKDAYS = "จันทร์|อังคาร|พุธ|พฤหัสบดี|พฤหัส|ศุกร์|เสาร์|อาทิตย์"
_PREFIX = r"(?:วัน(?:" + _WEEKDAYS + r")?\s*ที่|ที่)?\s*"

# The year is optional in a cell (filled from the fiscal-year hint) but required in a narrative.
_THAI_DATE_CELL_RE = re.compile(_PREFIX + _DAY_MONTH + _YEAR + "?" + _TIME)
# Not after a digit, dot, comma, colon or slash ("1.12 มี.ค." is no date). The check sits after
# the first digit, as a two-character lookbehind, so that the pattern starts with a digit class
# and ``re`` skips the narrative's Thai letters fast (≈ 3× faster than a leading lookbehind).
_THAI_DATE_TEXT_RE = re.compile(r"(?P<day>[0-9](?<![0-9.,:/][0-9])[0-9]?)"
                                + _DAY_MONTH.removeprefix(r"(?P<day>[0-9]{1,2})") + _YEAR)
_THAI_DIGIT_RE = re.compile("[๐-๙]")
_DMY_RE = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})" + _TIME)
_ISO_RE = re.compile(
    r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})"
    r"(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)

_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 61 onwards; Lotus' phantom 29 Feb 1900 absorbs the offset
_EXCEL_EPOCH_EARLY = datetime(1899, 12, 31)  # serials 1..59 (1 Jan – 28 Feb 1900)
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31


def _year_ce(year_text: str, era: str | None, original: str) -> int:
    """Resolve a written year to CE: two digits are BE 25xx, four digits < 2400 are CE, else BE."""
    year = int(year_text)
    if len(year_text) == 2:
        return 2000 + year if era == "ค" else to_ce(2500 + year)
    if (era == "พ" and year < _MIN_BE_YEAR) or (era == "ค" and year >= _MIN_BE_YEAR):
        raise ThaiParseError(original, _EXPECT_DATE, what=_WHAT_DATE)  # "พ.ศ. 2020": which one was meant?
    return to_ce(year) if year >= _MIN_BE_YEAR else year


def _make_date(year_ce: int, month: int, day: int, original: str) -> date:
    """Build the date, explaining impossible days in the staff member's own calendar (BE)."""
    if not 1 <= month <= 12 or not 1 <= year_ce <= 9999 or day < 1:
        raise ThaiParseError(original, _EXPECT_DATE, what=_WHAT_DATE)
    days = calendar.monthrange(year_ce, month)[1]
    if day > days:
        year_be = to_be(year_ce)
        raise ThaiParseError(
            original,
            _EXPECT_DATE,
            what=_WHAT_DATE,
            advice=(
                f'{THAI_MONTHS[month - 1]} {year_be} มีเพียง {days} วัน — กรอกเป็นวันที่ เช่น "{_EXAMPLE_DATE}"',
                f"{_MONTHS_EN[month - 1]} {year_be} BE ({year_ce}) has only {days} days"
                f' — type a date such as "{_EXAMPLE_DATE}"',
            ),
        )
    return date(year_ce, month, day)


def _from_be_typed(d: date, original: object) -> date:
    """A real date whose year is >= 2400 was typed as BE into a Gregorian cell; shift it back."""
    if d.year < _MIN_BE_YEAR:
        return d
    return _make_date(to_ce(d.year), d.month, d.day, str(original))


def parse_date(value: object, *, fiscal_year_hint: int | None = None) -> date | None:
    """Read a cell as a CE date, whichever of the ways Thai offices write dates was used.

    Accepts ``date``/``datetime``, Excel serials (1900 system) and text such as "23 ธันวาคม 2563",
    "๒๓ ธ.ค. ๖๓", "วันที่ 23 ธันวาคม พ.ศ. 2563", "23/12/2563", "23/12/2020" or "2020-12-23".
    Years of 2400 and above are BE (also in real dates: a BE year typed into an Excel date cell),
    two-digit years are BE 25xx.  ``fiscal_year_hint`` (BE) supplies the year when a Thai-month
    date omits it, October–December falling in the previous calendar year.  Blank is ``None``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_date_text(value, fiscal_year_hint)
    if isinstance(value, datetime):
        if value != value:  # pandas NaT: an empty cell
            return None
        return _from_be_typed(value.date(), value)
    if isinstance(value, date):
        return _from_be_typed(value, value)
    if isinstance(value, bool) or not isinstance(value, Decimal | Real):
        raise ThaiParseError(str(value), _EXPECT_DATE, what=_WHAT_DATE)
    if value != value:  # NaN: an empty cell
        return None
    return _from_be_typed(from_excel_serial(value).date(), value)  # type: ignore[arg-type]


def _parse_date_text(value: str, fiscal_year_hint: int | None) -> date | None:
    text = value.translate(_CLEAN).strip()
    if not text:
        return None
    m = _THAI_DATE_CELL_RE.fullmatch(text)
    if m is not None:
        month = _MONTH_LOOKUP[_strip_marks(m["month"])]
        if m["year"] is not None:
            year_ce = _year_ce(m["year"], m["era"], value)
        elif fiscal_year_hint is not None:
            fy = _check_fiscal_year(fiscal_year_hint)
            year_ce = to_ce(fy - 1 if month >= 10 else fy)
        else:
            raise ThaiParseError(value, _EXPECT_DATE_WITH_YEAR, what=_WHAT_DATE)
        return _make_date(year_ce, month, int(m["day"]), value)
    m = _DMY_RE.fullmatch(text)
    if m is not None:
        day, _, month, year = m.groups()
        return _make_date(_year_ce(year, None, value), int(month), int(day), value)
    m = _ISO_RE.fullmatch(text)
    if m is not None:
        year, _, month, day = m.groups()
        return _make_date(_year_ce(year, None, value), int(month), int(day), value)
    raise ThaiParseError(value, _EXPECT_DATE, what=_WHAT_DATE)


def find_dates(text: str) -> list[tuple[date, str]]:
    """Every "day Thai-month year" date in a narrative, with the text as written.

    Lets validators warn when a quarterly narrative cites an activity outside its quarter.
    Impossible dates and fragments such as "ก.พ.ร. 2564" or times are skipped, not reported:
    a narrative is free text, and a false alarm costs more than a missed one.
    """
    found: list[tuple[date, str]] = []
    # Digit translation is one character for one, so match offsets index the original text.
    # str.translate costs ~50 µs on a narrative: done only when a Thai digit is there to change.
    plain = text.translate(THAI_DIGITS) if _THAI_DIGIT_RE.search(text) is not None else text
    for m in _THAI_DATE_TEXT_RE.finditer(plain):
        try:
            month = _MONTH_LOOKUP[_strip_marks(m["month"])]
            found.append((_make_date(_year_ce(m["year"], m["era"], m[0]), month, int(m["day"]), m[0]),
                          text[m.start():m.end()]))
        except (ThaiParseError, KeyError):
            continue
    return found


def format_thai_date(d: date) -> str:
    """ "23 ธันวาคม 2563": the form official letters use, and that :func:`parse_date` reads back."""
    return f"{d.day} {THAI_MONTHS[d.month - 1]} {to_be(d.year)}"


def format_thai_date_short(d: date) -> str:
    """ "23 ธ.ค. 63": the form that fits a table cell."""
    return f"{d.day} {THAI_MONTHS_ABBR[d.month - 1]} {to_be(d.year) % 100:02d}"


def excel_serial(d: date) -> float:
    """Excel 1900-system serial of ``d`` (time of day as the fraction), for writing raw cell values.

    Dates before 1 March 1900 are one lower than the day count, matching Excel's phantom leap day.
    """
    if isinstance(d, datetime):
        delta = d.replace(tzinfo=None) - _EXCEL_EPOCH
    else:
        delta = d - _EXCEL_EPOCH.date()
    days = delta.days
    if days < 2:
        raise ValueError(f"Excel cannot store dates before 1900-01-01: {d!r}")
    if days < 61:
        days -= 1
    return days + (delta.seconds + delta.microseconds / 1_000_000) / 86_400


def from_excel_serial(x: float) -> datetime:
    """Datetime for an Excel 1900-system serial; serial 60 (the phantom 29 Feb 1900) is refused.

    The time is rounded to the millisecond, Excel's own precision, so 09:30 does not come back as
    09:29:59.999999.
    """
    if isinstance(x, bool) or not isinstance(x, Decimal | Real):
        raise ThaiParseError(str(x), _EXPECT_DATE, what=_WHAT_DATE)
    serial = float(x)  # type: ignore[arg-type]
    if not math.isfinite(serial) or not 1 <= serial < _EXCEL_MAX_SERIAL + 1:
        raise ThaiParseError(str(x), _EXPECT_DATE, what=_WHAT_DATE)
    day = math.floor(serial)
    if day == 60:
        raise ThaiParseError(
            str(x),
            _EXPECT_DATE,
            what=_WHAT_DATE,
            advice=(
                f'Excel ลำดับวันที่ 60 คือ 29 กุมภาพันธ์ 1900 ซึ่งไม่มีจริง — กรอกเป็นวันที่ เช่น "{_EXAMPLE_DATE}"',
                f'Excel serial 60 is 29 February 1900, which never existed — type a date such as "{_EXAMPLE_DATE}"',
            ),
        )
    epoch = _EXCEL_EPOCH_EARLY if day < 60 else _EXCEL_EPOCH
    return epoch + timedelta(days=day, milliseconds=round((serial - day) * 86_400_000))
