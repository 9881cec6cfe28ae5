TRANSLATIONS = {
    # Error pages
    "Page not found": "页面不存在",
    "The page you asked for does not exist, or it is not yours to see.": (
        "您要访问的页面不存在，或者您无权查看。"
    ),
    "No permission": "没有权限",
    "Your account has no permission for this page. If you need it, ask the school's principal for the "
    "role that gives it.": "您的账号没有访问此页面的权限。如确有需要，请联系校长为您分配相应的角色。",
    "Back to the home page": "返回首页",
    "Server error": "服务器错误",
    "Something went wrong on our side. Please try again in a moment; if it keeps happening, tell the "
    "school's administrator.": "系统出了点问题。请稍后再试；如果问题持续出现，请联系学校的系统管理员。",
    # The admin's user pages (Django 5.2 has no Chinese for this sentence)
    "After you’ve created a user, you’ll be able to edit more user options.": (
        "创建用户后，即可编辑更多用户选项。"
    ),
    # Register, log in, log out
    "Register": "注册",
    "Log in": "登录",
    "Log out": "注销",
    "Welcome,": "欢迎，",
    "Back office": "后台管理",
    "Password again": "再次输入密码",
    "The two passwords do not match.": "两次输入的密码不一致。",
    "Please correct the errors below.": "请修正下面的错误。",
    "Your account %(username)s has been created. Log in with it.": "账号 %(username)s 已创建，请用它登录。",
    "No account yet? Register": "还没有账号？注册",
    "Already have an account? Log in": "已有账号？登录",
    # Lockout
    "Too many failed logins": "登录失败次数过多",
    "Too many failed login attempts from this computer or for this username.": (
        "这台电脑或这个用户名的登录失败次数过多。"
    ),
    "Logging in is locked for now. Wait %(minutes)s min, then try again.": (
        "登录已被暂时锁定，请等待 %(minutes)s 分钟后再试。"
    ),
    "Logging in is locked. Ask the school's administrator to unlock it.": (
        "登录已被锁定，请联系学校管理员解锁。"
    ),
    "Back to the login page": "返回登录页",
    # The student's own page
    "My studies": "我的学习",
    "Your account %(username)s works, but no student of the school is linked to it yet.": (
        "您的账号 %(username)s 可以正常使用，但还没有关联到本校的学员。"
    ),
    "Once you enrol in a class, your consultant or class teacher links your account, "
    "and your classes, lessons and payments appear here.": (
        "报名上课后，您的课程顾问或班主任会关联您的账号，届时您的班级、课程和缴费记录会显示在这里。"
    ),
    "Go to the back office": "进入后台管理",
    "Hello %(name)s: here are your classes, lessons and payments.": (
        "%(name)s，您好：这里是您的班级、课程和缴费记录。"
    ),
    "Attendance rate": "出勤率",
    "Average score": "平均成绩",
    "Download what I handed in": "下载我交的作业",
    "Hand in again": "重新提交",
    "Choose a file": "选择文件",
    "No file chosen": "未选择文件",
    "Hand in": "提交作业",
    "Not recorded yet": "尚未记录",
    "No lessons yet.": "还没有课程。",
    "You are not in a class yet.": "您还没有加入班级。",
    "My payments": "我的缴费",
    "No payments yet.": "还没有缴费记录。",
    "Confirmed total": "已确认合计",
    # Homework uploads
    "Files of this type are not accepted. Allowed types: %(allowed)s.": (
        "不接受这种类型的文件。允许的类型：%(allowed)s。"
    ),
    "The file is %(size)s; the limit is %(limit)s.": "文件大小为 %(size)s，上限是 %(limit)s。",
    "This lesson has no homework to hand in.": "这节课没有要交的作业。",
    "Your homework has been handed in.": "作业已提交。",
    "Your homework was not handed in:": "作业没有提交成功：",
    "see the reason beside the lesson.": "原因见该节课旁边的说明。",
    # The admin's user list
    "role": "角色",
    "roles": "角色",
    "Waiting for a role": "等待分配角色",
    "Has a role": "已有角色",
    "Superuser": "超级用户",
}
