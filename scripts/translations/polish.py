"""Wording fixes found by looking at the Chinese screens (area `polish`)."""

TRANSLATIONS = {
    # django-import-export's export page: its only button exports.
    "Submit": "导出",
    # Django's help of "基于密码的验证" on the add-user form (crm/polish_strings.py).
    "Whether the user will be able to authenticate using a password or not. "
    "If disabled, they may still be able to authenticate using other backends, "
    "such as Single Sign-On or LDAP.": "选择“禁用”时，此账号暂时不能用密码登录，可以以后再为它设置密码。",
    # django-axes, the admin's log of login attempts (crm/polish_strings.py).
    "access attempt": "登录尝试",
    "access attempts": "登录尝试",
    "access failure": "登录失败",
    "access failures": "登录失败",
    "access log": "登录日志",
    "access logs": "登录日志",
    "access attempt expiration": "登录尝试过期",
    "access attempt expirations": "登录尝试过期",
    "Access Attempt": "登录尝试",
    "Access lock out": "登录锁定",
    "Attempt Remaining": "剩余尝试次数",
    "Attempt Time": "尝试时间",
    "Clean up expired attempts": "清理过期的登录尝试",
    "Expires At": "过期时间",
    "Failed Logins": "失败次数",
    "Form Data": "表单数据",
    "GET Data": "GET 数据",
    "HTTP Accept": "HTTP Accept 头",
    "IP Address": "IP 地址",
    "Locked Out": "已锁定",
    "Logout Time": "退出时间",
    "Meta Data": "元数据",
    "Not set": "未设置",
    "POST Data": "POST 数据",
    "Path": "路径",
    "Session key hash (sha256)": "会话密钥哈希 (sha256)",
    "The time when access attempt expires and is no longer valid.": "登录尝试在此时间后过期，不再计数。",
    "User Agent": "浏览器标识",
    "Username": "用户名",
}
