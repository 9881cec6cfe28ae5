"""Contacts in their one canonical form, and masked for those who may not see them whole."""

import pytest

from crm.contacts import canonical_phone, canonical_qq, canonical_wechat, mask_phone, mask_qq, mask_wechat


@pytest.mark.parametrize(
    "typed",
    [
        "13800138000",
        "+86 138-0013-8000",
        "0086 13800138000",
        "8613800138000",
        "１３８００１３８０００",
        " 138 0013 8000 ",
    ],
)
def test_every_way_of_typing_a_mobile_number_is_the_same_number(typed):
    assert canonical_phone(typed) == "13800138000"


def test_empty_contacts_are_none_so_that_uniqueness_applies_to_real_ones_only():
    assert canonical_phone("  ") is None
    assert canonical_qq("") is None
    assert canonical_wechat(None) is None


def test_qq_numbers_and_wechat_ids_lose_spaces_and_full_width_forms():
    assert canonical_qq("１２３ ４５６") == "123456"
    assert canonical_wechat(" Ｗx_Abc ") == "Wx_Abc"


def test_what_is_not_a_number_stays_for_the_validators_to_refuse():
    assert canonical_phone("abc") == "abc"


def test_masks_show_the_ends_and_never_half_of_a_short_id():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_qq("12345689") == "12****89"
    assert mask_qq("55555") == "5****5"
    assert mask_wechat("wx_abcdef") == "wx****ef"
    assert mask_qq("") == ""
