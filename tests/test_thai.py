"""Tests for kpi_xl.thai: Thai digits, BE dates, fiscal quarters and the bilingual parse errors."""

from __future__ import annotations

import pickle
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_xl import thai
from kpi_xl.thai import ThaiParseError

# --- years and the fiscal calendar -----------------------------------------------------------


@pytest.mark.parametrize(("ce", "be"), [(2020, 2563), (2021, 2564), (1957, 2500), (2100, 2643)])
def test_be_ce_conversion(ce: int, be: int) -> None:
    assert thai.to_be(ce) == be
    assert thai.to_ce(be) == ce


@pytest.mark.parametrize(
    ("d", "fy", "q"),
    [
        (date(2020, 12, 23), 2564, 1),  # 23 ธ.ค. 2563
        (date(2020, 10, 1), 2564, 1),  # 1 ต.ค. 2563 opens FY 2564
        (date(2020, 9, 30), 2563, 4),  # the day before still belongs to FY 2563
        (date(2021, 1, 1), 2564, 2),
        (date(2021, 3, 31), 2564, 2),
        (date(2021, 4, 1), 2564, 3),
        (date(2021, 6, 30), 2564, 3),
        (date(2021, 7, 1), 2564, 4),
        (date(2021, 9, 30), 2564, 4),  # 30 ก.ย. 2564 closes FY 2564
        (datetime(2020, 12, 23, 23, 59), 2564, 1),
    ],
)
def test_fiscal_year_and_quarter(d: date, fy: int, q: int) -> None:
    assert thai.fiscal_year(d) == fy
    assert thai.quarter(d) == q
    assert thai.fiscal_period(d) == (fy, q)


@pytest.mark.parametrize(
    ("q", "start", "end"),
    [
        (1, date(2020, 10, 1), date(2020, 12, 31)),
        (2, date(2021, 1, 1), date(2021, 3, 31)),
        (3, date(2021, 4, 1), date(2021, 6, 30)),
        (4, date(2021, 7, 1), date(2021, 9, 30)),
    ],
)
def test_quarter_bounds_fy2564(q: int, start: date, end: date) -> None:
    assert thai.quarter_start(2564, q) == start
    assert thai.quarter_end(2564, q) == end


def test_fiscal_year_bounds() -> None:
    assert thai.fiscal_year_start(2564) == date(2020, 10, 1)
    assert thai.fiscal_year_end(2564) == date(2021, 9, 30)


@pytest.mark.parametrize("q", [0, 5, -1, True, 1.0, "1", None])
def test_bad_quarter_raises(q: object) -> None:
    with pytest.raises(ValueError):
        thai.quarter_start(2564, q)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        thai.quarter_end(2564, q)  # type: ignore[arg-type]


def test_ce_fiscal_year_is_refused() -> None:
    with pytest.raises(ValueError, match="CE"):
        thai.quarter_start(2021, 1)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_period_consistent_with_bounds(d: date) -> None:
    fy, q = thai.fiscal_period(d)
    assert thai.quarter_start(fy, q) <= d <= thai.quarter_end(fy, q)
    assert thai.fiscal_year_start(fy) <= d <= thai.fiscal_year_end(fy)
    assert thai.fiscal_period(thai.quarter_start(fy, q)) == (fy, q)
    assert thai.fiscal_period(thai.quarter_end(fy, q)) == (fy, q)
    # quarters tile the year: the day after a quarter's end starts the next quarter
    nxt = thai.quarter_end(fy, q) + timedelta(days=1)
    assert thai.fiscal_period(nxt) == ((fy, q + 1) if q < 4 else (fy + 1, 1))


# --- digits ----------------------------------------------------------------------------------


def test_digits() -> None:
    assert thai.normalize_digits("๐๑๒๓๔๕๖๗๘๙") == "0123456789"
    assert "๒๕๖๓".translate(thai.THAI_DIGITS) == "2563"
    assert thai.to_thai_digits("23 ธ.ค. 2563") == "๒๓ ธ.ค. ๒๕๖๓"
    assert thai.normalize_digits(thai.to_thai_digits("0123456789")) == "0123456789"


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("๕", 5),
        ("๑,๒๓๔.๕๐", 1234.5),
        (" 5 ", 5),
        ("5.00 (ระดับ)", 5),
        ("87 %", 87),
        ("87%", 87),
        ("-3", -3),
        ("+3", 3),
        ("1,234", 1234),
        ("1,234,567.5", 1234567.5),
        ("๕ ระดับ", 5),
        ("\u00a05\u00a0", 5),  # non-breaking spaces
        ("\u200b5\u200b", 5),  # zero-width spaces
        ("\u22123", -3),  # Unicode minus sign
        (".5", 0.5),
        ("0", 0),
        (5, 5),
        (5.5, 5.5),
        (-2, -2),
        (Decimal("2.5"), 2.5),
    ],
)
def test_parse_number_accepts(value: object, expected: float) -> None:
    result = thai.parse_number(value)
    assert result == expected
    assert isinstance(result, float)


@pytest.mark.parametrize("value", [None, "", "   ", "\u00a0", "\u200b", float("nan")])
def test_parse_number_blank_is_none(value: object) -> None:
    assert thai.parse_number(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "สิบ",
        "N/A",
        "-",
        "5-6",
        "1.2.3",
        "12abc34",
        "5 or 6",
        "ได้ 5 และ 6 ครั้ง",  # two numbers in text
        "5 (ระดับ 4)",  # digits in the remark
        "1,23",
        "5-",  # SAP-style trailing minus
        "(5)",
        "1e5",
        "1.5 ล้าน",  # 1,500,000, never 1.5
        "3 พันคน",
        "5k",
        "inf",
        True,
        False,
        float("inf"),
        datetime(2020, 5, 6),  # Excel turned "6/5" into a date
        date(2020, 5, 6),
        [5],
    ],
)
def test_parse_number_rejects(value: object) -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_number(value)
    err = info.value
    assert err.expected
    assert err.text
    assert str(err) == f"{err.message_th} / {err.message_en}"


@pytest.mark.parametrize("code", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#div/0!"])
def test_parse_number_rejects_excel_errors(code: str) -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_number(code)
    err = info.value
    assert err.text == code
    assert "Excel" in err.expected and "formula" in err.expected
    assert "สูตร" in err.message_th and "formula" in err.message_en


def test_error_message_format() -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_number("สิบ")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.text == "สิบ"
    assert err.message_th == 'อ่านค่า "สิบ" เป็นตัวเลขไม่ได้ — กรอกเป็นตัวเลข เช่น 10'
    assert err.message_en == 'cannot read "สิบ" as a number — type a number such as 10'
    assert str(err) == err.message_th + " / " + err.message_en
    assert err.expected == "ตัวเลข เช่น 10 / a number such as 10"


def test_error_can_be_built_by_other_modules_and_pickled() -> None:
    err = ThaiParseError("x", "ตัวเลข เช่น 10 / a number such as 10")
    assert (err.expected_th, err.expected_en) == ("ตัวเลข เช่น 10", "a number such as 10")
    date_err = ThaiParseError("x", ("วันที่", "a date"), what=("วันที่", "a date"))
    copy = pickle.loads(pickle.dumps(date_err))
    assert str(copy) == str(date_err)
    assert copy.text == "x" and copy.expected == date_err.expected


def test_long_text_is_shortened_in_message_only() -> None:
    text = "ผลการดำเนินงาน " * 20
    with pytest.raises(ThaiParseError) as info:
        thai.parse_number(text)
    assert info.value.text == text
    assert len(info.value.message_en) < 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [("๑๒", 12), ("5.00", 5), ("1,234", 1234), (7, 7), (7.0, 7), ("12345678901234567890", 12345678901234567890)],
)
def test_parse_int_accepts(value: object, expected: int) -> None:
    result = thai.parse_int(value)
    assert result == expected
    assert isinstance(result, int)


@pytest.mark.parametrize("value", ["5.5", 5.5, "สิบ", True])
def test_parse_int_rejects(value: object) -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_int(value)
    assert info.value.expected


def test_parse_int_blank() -> None:
    assert thai.parse_int(None) is None
    assert thai.parse_int(" ") is None


@given(st.integers(min_value=-(10**12), max_value=10**12), st.booleans())
def test_parse_number_thousands_and_thai_digits(n: int, thai_digits: bool) -> None:
    text = f"{n:,}"
    if thai_digits:
        text = thai.to_thai_digits(text)
    assert thai.parse_number(text) == n
    assert thai.parse_int(text) == n


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
       st.sampled_from(["-", " ", "/", " หรือ ", " or ", "..", ".5.", "x", " - ", "~"]))
def test_two_numbers_are_never_read_as_one(a: int, b: int, sep: str) -> None:
    with pytest.raises(ThaiParseError):
        thai.parse_number(f"{a}{sep}{b}")


# --- dates -----------------------------------------------------------------------------------

XMAS_EVE_EVE = date(2020, 12, 23)


@pytest.mark.parametrize(
    "value",
    [
        "23 ธันวาคม 2563",
        "23 ธ.ค. 63",
        "23 ธ.ค. 2563",
        "23 ธ.ค 63",  # final dot forgotten
        "23 ธค 63",  # no dots at all
        "23 ธ. ค. 63",
        "๒๓ ธ.ค. ๒๕๖๓",
        "๒๓ ธันวาคม ๒๕๖๓",
        "วันที่ 23 ธันวาคม พ.ศ. 2563",
        "วันที่ ๒๓ เดือนธันวาคม พ.ศ. ๒๕๖๓",
        "วันพุธที่ 23 ธันวาคม 2563",
        "23 ธันวาคม 2020",  # 4-digit year below 2400 is CE
        "23/12/2563",
        "23/12/2020",
        "23/12/63",
        "23-12-2563",
        "23.12.2563",
        "2020-12-23",
        "2020-12-23T09:30:00",
        "2020-12-23 00:00:00",
        "2563-12-23",
        " 23 ธันวาคม 2563 ",
        "23 ธ.ค. 2563 09.30 น.",
        44188,  # Excel serial
        44188.75,  # serial with a time of day
        Decimal(44188),
        datetime(2020, 12, 23, 9, 30),
        XMAS_EVE_EVE,
        date(2563, 12, 23),  # BE year typed into an Excel date cell
    ],
)
def test_parse_date_forms(value: object) -> None:
    result = thai.parse_date(value)
    assert result == XMAS_EVE_EVE
    assert type(result) is date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1 ม.ค. 64", date(2021, 1, 1)),
        ("1 ก.พ. 64", date(2021, 2, 1)),
        ("1 มี.ค. 64", date(2021, 3, 1)),
        ("1 เม.ย. 64", date(2021, 4, 1)),
        ("1 พ.ค. 64", date(2021, 5, 1)),
        ("1 มิ.ย. 64", date(2021, 6, 1)),
        ("1 ก.ค. 64", date(2021, 7, 1)),
        ("1 ส.ค. 64", date(2021, 8, 1)),
        ("1 ก.ย. 64", date(2021, 9, 1)),
        ("1 ต.ค. 64", date(2021, 10, 1)),
        ("1 พ.ย. 64", date(2021, 11, 1)),
        ("1 ธ.ค. 64", date(2021, 12, 1)),
        ("1 กรกฏาคม 2564", date(2021, 7, 1)),  # common misspelling of กรกฎาคม
        ("29 กุมภาพันธ์ 2563", date(2020, 2, 29)),  # leap year (CE 2020)
    ],
)
def test_parse_date_every_month(value: str, expected: date) -> None:
    assert thai.parse_date(value) == expected


@pytest.mark.parametrize("month", range(1, 13))
def test_parse_date_full_month_names(month: int) -> None:
    assert thai.parse_date(f"15 {thai.THAI_MONTHS[month - 1]} 2564") == date(2021, month, 15)
    assert thai.parse_date(f"15 {thai.THAI_MONTHS_ABBR[month - 1]} 2564") == date(2021, month, 15)


@pytest.mark.parametrize(("serial", "expected"), [(1, date(1900, 1, 1)), (59, date(1900, 2, 28)),
                                                  (61, date(1900, 3, 1)), (44188, date(2020, 12, 23))])
def test_excel_serials(serial: int, expected: date) -> None:
    assert thai.parse_date(serial) == expected
    assert thai.from_excel_serial(serial) == datetime.combine(expected, datetime.min.time())
    assert thai.excel_serial(expected) == serial


def test_excel_serial_time_of_day() -> None:
    assert thai.excel_serial(datetime(2020, 12, 23, 12)) == 44188.5
    assert thai.from_excel_serial(44188.5) == datetime(2020, 12, 23, 12)
    # 09:30 is not exactly representable; it still comes back as 09:30 sharp
    assert thai.from_excel_serial(thai.excel_serial(datetime(2020, 12, 23, 9, 30))) == datetime(2020, 12, 23, 9, 30)


@pytest.mark.parametrize("serial", [60, 0, 0.5, -1, 3_000_000, float("inf")])
def test_bad_excel_serials(serial: float) -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_date(serial)
    assert info.value.expected


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_excel_serial_round_trip(dt: datetime) -> None:
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    assert thai.from_excel_serial(thai.excel_serial(dt)) == dt


@pytest.mark.parametrize("value", [None, "", "  ", "\u200b", float("nan")])
def test_parse_date_blank_is_none(value: object) -> None:
    assert thai.parse_date(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "31 ก.พ. 2563",
        "30 กุมภาพันธ์ 2563",
        "29 ก.พ. 2564",  # CE 2021 is not a leap year
        "31 เมษายน 2564",
        "0 ม.ค. 2564",
        "32 ม.ค. 2564",
        "23 ธันวา 2563",  # unknown month
        "23 foo 2563",
        "31/02/2563",
        "13/13/2563",
        "12/23/2020",  # month/day order is not Thai
        "2020-13-01",
        "garbage",
        "2563",
        "23 ธันวาคม พ.ศ. 2020",  # says BE but the year is CE
        "23 ธ.ค.",  # no year and no fiscal-year hint
        "5-6",
        True,
        [2020, 12, 23],
    ],
)
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_date(value)
    err = info.value
    assert err.expected
    assert "23 ธันวาคม 2563" in err.expected
    assert "วันที่" in err.message_th and "a date" in err.message_en


def test_bad_date_error_text() -> None:
    with pytest.raises(ThaiParseError) as info:
        thai.parse_date("31 ก.พ. 2563")
    err = info.value
    assert err.expected == 'วันที่ เช่น "23 ธันวาคม 2563" / a date such as "23 ธันวาคม 2563"'
    assert "29 วัน" in err.message_th
    assert "29 days" in err.message_en


@pytest.mark.parametrize(
    ("value", "hint", "expected"),
    [
        ("23 ธ.ค.", 2564, date(2020, 12, 23)),  # Oct–Dec belong to the previous CE year
        ("5 ม.ค.", 2564, date(2021, 1, 5)),
        ("30 กันยายน", 2564, date(2021, 9, 30)),
        ("23 ธ.ค. 2562", 2564, date(2019, 12, 23)),  # an explicit year wins over the hint
    ],
)
def test_parse_date_fiscal_year_hint(value: str, hint: int, expected: date) -> None:
    assert thai.parse_date(value, fiscal_year_hint=hint) == expected


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_format_parse_round_trip(d: date) -> None:
    assert thai.parse_date(thai.format_thai_date(d)) == d
    assert thai.parse_date(thai.to_thai_digits(thai.format_thai_date(d))) == d


@given(st.dates(min_value=date(1957, 1, 1), max_value=date(2056, 12, 31)))
def test_short_format_round_trip(d: date) -> None:
    # two-digit years mean BE 25xx, i.e. CE 1957–2056
    assert thai.parse_date(thai.format_thai_date_short(d)) == d


def test_format_thai_date() -> None:
    assert thai.format_thai_date(XMAS_EVE_EVE) == "23 ธันวาคม 2563"
    assert thai.format_thai_date_short(XMAS_EVE_EVE) == "23 ธ.ค. 63"
    assert thai.format_thai_date_short(date(2043, 1, 5)) == "5 ม.ค. 86"
    assert thai.format_thai_date(datetime(2021, 9, 30, 8)) == "30 กันยายน 2564"


def test_be_date_format() -> None:
    assert thai.BE_DATE_FORMAT == "[$-107041E]d mmmm yyyy;@"


# --- dates inside narratives -----------------------------------------------------------------


def test_find_dates_in_narrative() -> None:
    text = "จัดประชุมคณะทำงาน วันที่ 23 ธันวาคม 2563 เวลา 09.30-12.00 น. ณ ห้องประชุมสำนักงานเขต มีผู้เข้าร่วม 35 คน"
    assert thai.find_dates(text) == [(date(2020, 12, 23), "23 ธันวาคม 2563")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("อบรมเมื่อ ๕ ม.ค. ๖๔ และติดตามผล 15 ก.พ. 2564", [(date(2021, 1, 5), "๕ ม.ค. ๖๔"),
                                                        (date(2021, 2, 15), "15 ก.พ. 2564")]),
        ("ลงพื้นที่ 3 มี.ค. พ.ศ. 2564", [(date(2021, 3, 3), "3 มี.ค. พ.ศ. 2564")]),
        ("ระหว่าง 1-3 ธ.ค. 63", [(date(2020, 12, 3), "3 ธ.ค. 63")]),
        ("ตามตัวชี้วัด ก.พ.ร. 2564 ข้อ 2 ก.พ.ร. 64", []),  # OPDC, not February
        ("เวลา 09.30-12.00 น. จำนวน 120 คน งบประมาณ 2564", []),
        ("วันที่ 31 ก.พ. 2564 (พิมพ์ผิด)", []),  # impossible date: skipped, not raised
        ("ธันวาคม 2563", []),  # no day
        ("", []),
    ],
)
def test_find_dates(text: str, expected: list[tuple[date, str]]) -> None:
    assert thai.find_dates(text) == expected


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
       st.sampled_from(["ดำเนินการเมื่อ ", "วันที่ ", "(", ""]), st.sampled_from([" เรียบร้อยแล้ว", ")", ""]))
def test_find_dates_round_trip(d: date, before: str, after: str) -> None:
    written = thai.format_thai_date(d)
    assert thai.find_dates(f"{before}{written}{after}") == [(d, written)]
