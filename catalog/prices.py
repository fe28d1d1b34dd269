"""Numbers and prices as stores write them: "15.00 USD", "$1,299.00", "1.299,00 €", "1e3".

Exports mix machine forms (Python/JSON floats) with shop forms (currency marks, thousands
separators in the US or the European way). Anything this cannot read with certainty, and any
negative, NaN or infinite price, raises `ValueError` with a reason, so the adapter reports the
row with its line number instead of importing a wrong price (issue 17, defect 5: the old
digits-only cleanup read -5 as 5, 1e3 as 13 and "1.299,00" as 1.299).
"""

from __future__ import annotations

import math
import re
import unicodedata

# Symbols that name one currency; "$" and "¥" are shared by several, so they name none.
SYMBOL_CODES = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS"}
_CODE_AT_START = re.compile(r"[A-Za-z]{3}(?![A-Za-z])")
_CODE_AT_END = re.compile(r"(?<![A-Za-z])[A-Za-z]{3}$")
_DIGITS = re.compile(r"[\d.,]*\d[\d.,]*")
# spaces, no-break/thin spaces and apostrophes group thousands ("1 299,00", "1'299.50")
_GROUP_MARKS = re.compile(r"[\s\u00a0\u202f\u2009'’]")


def _grouped(int_part: str, sep: str) -> str:
    """Digits grouped by `sep` in threes ("1,234,567"), joined; anything else is ambiguous."""
    groups = int_part.split(sep)
    if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
            and all(g.isdigit() for g in groups)):
        raise ValueError("not a price")
    return "".join(groups)


def _number(text: str) -> float:
    """A plain positive number with optional thousands and decimal separators."""
    if not _DIGITS.fullmatch(text):
        raise ValueError("not a price")
    if "," in text and "." in text:
        # both marks: the last one is the decimal separator ("1,299.00" US, "1.299,00" European)
        dec = "," if text.rfind(",") > text.rfind(".") else "."
        int_part, frac = text.rsplit(dec, 1)
        if not frac.isdigit():
            raise ValueError("not a price")
        return float(_grouped(int_part, "." if dec == "," else ",") + "." + frac)
    if "," in text:
        parts = text.split(",")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and len(parts[1]) != 3:
            return float(f"{parts[0]}.{parts[1]}")  # decimal comma: "12,50"
        return float(_grouped(text, ","))  # thousands: "1,299", "1,234,567"
    if text.count(".") > 1:
        return float(_grouped(text, "."))  # "2.345.678"
    return float(text)


def _strip_currency(text: str) -> tuple[str, str, list[str]]:
    """Peel a sign and currency codes/symbols off both ends: ("-", "5.00", ["$"]) for "$-5.00"."""
    sign, marks = "", []
    while True:
        text = text.strip()
        if not text:
            break
        if not sign and text[0] in "+-":
            sign, text = text[0], text[1:]
        elif m := _CODE_AT_START.match(text):
            marks.append(m.group().upper())
            text = text[3:]
        elif unicodedata.category(text[0]) == "Sc":
            marks.append(text[0])
            text = text[1:]
        elif m := _CODE_AT_END.search(text):
            marks.append(m.group().upper())
            text = text[:-3]
        elif unicodedata.category(text[-1]) == "Sc":
            marks.append(text[-1])
            text = text[:-1]
        else:
            break
    return sign, text, marks


def _finite(amount: float) -> float:
    if not math.isfinite(amount):
        raise ValueError("not a finite number")
    return amount


def parse_number(value: object) -> float:
    """A finite number from a JSON number or a string in either separator style ("4,5" -> 4.5)."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, (int, float)):
        return _finite(float(value))
    text = str(value).strip()
    try:
        return _finite(float(text))
    except ValueError as exc:
        if "finite" in str(exc):
            raise
    sign, rest, marks = _strip_currency(text)
    if marks:
        raise ValueError("not a number")
    amount = _number(_GROUP_MARKS.sub("", rest))
    return _finite(-amount if sign == "-" else amount)


def parse_price(value: object) -> tuple[float, str]:
    """(amount, ISO currency code or "") from a price cell; ValueError says why it is refused."""
    if isinstance(value, bool):
        raise ValueError("not a price")
    if isinstance(value, (int, float)):
        amount, sign, marks = _finite(float(value)), "", []
    else:
        text = str(value).strip()
        try:  # machine forms first: "12.5", "1e3", "-5", "nan", "Infinity"
            amount, sign, marks = _finite(float(text)), "", []
        except ValueError as exc:
            if "finite" in str(exc):
                raise
            sign, rest, marks = _strip_currency(text)
            codes = {m for m in marks if len(m) == 3}
            symbols = {m for m in marks if len(m) == 1}
            if len(codes) > 1 or len(symbols) > 1 or len(marks) > 2:
                raise ValueError("not a price (more than one currency)") from None
            amount = _finite(_number(_GROUP_MARKS.sub("", rest)))
    if amount < 0 or (sign == "-" and amount > 0):
        raise ValueError("negative")
    code = next((m for m in marks if len(m) == 3), "") or next(
        (SYMBOL_CODES[m] for m in marks if m in SYMBOL_CODES), "")
    return amount, code
