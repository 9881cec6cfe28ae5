"""A customer's contacts (QQ, phone, WeChat id): their one canonical form, and how they read to someone
who may not see them whole. Pure functions: every entry path (form, import, command) stores what
``canonical_*`` returns, and every page that shows another salesperson's customer shows the mask."""

import re
import unicodedata

_NOT_DIGITS = re.compile(r"[\s\-–—.()（）]+")
_MAINLAND_PREFIX = re.compile(r"^(?:\+86|0086|86(?=1[3-9]\d{9}$))")


def _fold(value: str) -> str:
    # Full-width digits and letters (１３８, ＱＱ) become ASCII; spaces of every kind become one kind.
    return unicodedata.normalize("NFKC", value or "").strip()


def canonical_phone(value: str | None) -> str | None:
    """「+86 138-0013-8000」, 「0086 13800138000」 and 「１３８００１３８０００」 are 「13800138000」;
    empty is None. What is not a phone number stays as typed (folded), for the validators to refuse."""
    folded = _fold(value or "")
    if not folded:
        return None
    compact = _NOT_DIGITS.sub("", folded)
    return _MAINLAND_PREFIX.sub("", compact)


def canonical_qq(value: str | None) -> str | None:
    folded = _fold(value or "")
    if not folded:
        return None
    return _NOT_DIGITS.sub("", folded)


def canonical_wechat(value: str | None) -> str | None:
    """WeChat ids are unique without regard to case: stored as typed (folded, without spaces)."""
    folded = re.sub(r"\s+", "", _fold(value or ""))
    return folded or None


def _mask(value: str | None, *, head: int, tail: int) -> str:
    if not value:
        return ""
    if len(value) <= head + tail + 1:
        return value[:1] + "****"
    return f"{value[:head]}****{value[-tail:]}"


def mask_phone(value: str | None) -> str:
    """13812345678 reads 138****5678."""
    return _mask(value, head=3, tail=4)


def _mask_id(value: str | None) -> str:
    # Two characters at each end of a long id, one of a short one: never half of it or more.
    short = len(value or "") < 8
    return _mask(value, head=1 if short else 2, tail=1 if short else 2)


def mask_qq(value: str | None) -> str:
    """12345689 reads 12****89; 55555 reads 5****5."""
    return _mask_id(value)


def mask_wechat(value: str | None) -> str:
    return _mask_id(value)


MASKS = {"qq": mask_qq, "phone": mask_phone, "wechat": mask_wechat}
