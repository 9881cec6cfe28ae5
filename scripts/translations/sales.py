TRANSLATIONS = {
    "%(customer)s: %(from)s → %(to)s": "%(customer)s：%(from)s → %(to)s",
    "Search by name, QQ, QQ nickname or phone.": "按姓名、QQ、QQ昵称或手机号搜索。",
    "Consultation": "咨询信息",
    "Follow-up": "跟进",
    "Classes": "班级",
    "Ownership": "归属",
    "Follow-ups (%(count)d)": "跟进记录 (%(count)d)",
    "today": "今天",
    "yesterday": "昨天",
    "%(days)d days ago": "%(days)d天前",
    "Claim the selected customers": "领取所选客户（公户转私户）",
    "%(count)d customers claimed; they are now in My customers.": (
        "已领取 %(count)d 个客户，可在“我的客户”中查看。"
    ),
    "Release the selected customers to the public pool": "将所选客户释放到公户",
    "%(count)d customers released to the public pool.": "已将 %(count)d 个客户释放到公户。",
    "Delete the selected follow-ups": "删除所选跟进记录",
    "%(count)d follow-ups deleted.": "已删除 %(count)d 条跟进记录。",
    "You may own at most %(cap)d customers: you own %(current)d, and %(adding)d more would exceed "
    "the cap. Nothing was changed.": (
        "每人最多拥有 %(cap)d 个客户：您已有 %(current)d 个，再增加 %(adding)d 个将超出上限。未做任何更改。"
    ),
    "%(owner)s may own at most %(cap)d customers: they own %(current)d, and %(adding)d more would "
    "exceed the cap. Nothing was changed.": (
        "%(owner)s 最多拥有 %(cap)d 个客户：已有 %(current)d 个，"
        "再增加 %(adding)d 个将超出上限。未做任何更改。"
    ),
    "Some selected customers no longer exist. Nothing was claimed.": "部分所选客户已不存在，未领取任何客户。",
    "These customers were already taken: %(names)s. Nothing was claimed.": (
        "客户已被占用：%(names)s。未领取任何客户。"
    ),
    "Only your own customers can be released. Nothing was released.": "只能释放自己的客户，未释放任何客户。",
    "You can only write follow-ups for your own customers.": "只能为自己的客户填写跟进记录。",
    "Per page:": "每页：",
    # --- recycle ---
    "automatic recycling": "自动回收",
    "Recycling soon": "即将回收",
    "Recycled in %(days)d days": "%(days)d天后回收",
}
