TRANSLATIONS = {
    # The boss's dashboard (经营看板)
    "Business dashboard": "经营看板",
    "Leads, follow-ups, enrollments, revenue and classes of the school at a glance.": (
        "全校的新增客户、跟进、报名、收入和班级情况，一目了然。"
    ),
    "Open the dashboard": "打开经营看板",
    # Period
    "Period": "时间段",
    "From": "从",
    "To": "至",
    "Show": "查询",
    "This week": "本周",
    "This month": "本月",
    "Last month": "上月",
    "This year": "今年",
    "%(start)s to %(end)s": "%(start)s 至 %(end)s",
    "%(days)s days in all": "共 %(days)s 天",
    "Give both the first and the last day of the period.": "请同时填写开始日期和结束日期。",
    "The first day must not be after the last day.": "开始日期不能晚于结束日期。",
    "Choose a period of at most three years.": "查询的时间段最长为三年。",
    # Figures
    "New customers": "新增客户",
    "created in the period": "本期录入的客户",
    "Conversion": "转化率",
    "%(converted)s of them signed up": "其中 %(converted)s 人已报名",
    "Follow-ups": "跟进次数",
    "follow-up records in the period": "本期的跟进记录",
    "Enrollments": "报名",
    "%(approved)s contracts approved": "已审核合同 %(approved)s 份",
    "Confirmed revenue (net)": "已确认收入（净额）",
    "income %(income)s, refunds %(refunds)s": "收入 %(income)s，退款 %(refunds)s",
    "payments finance has not confirmed yet": "财务尚未确认的缴费",
    "Public pool": "公户客户",
    "customers without a salesperson, now": "当前没有销售跟进的客户",
    "Private customers": "私户客户",
    "customers owned by salespeople, now": "当前销售名下的客户",
    "No class": "未指定班级",
    # Sales team
    "Sales team": "销售团队",
    "Private customers are counted now, against the cap of %(cap)s per salesperson; the other figures are "
    "those of the period.": "私户客户为当前人数（每位销售上限 %(cap)s 人），其余数字均为所选时间段内的数据。",
    "Salesperson": "销售",
    "Customers followed": "跟进客户数",
    "Approved contracts": "已审核合同",
    "not in the sales team": "非销售团队",
    "No salespeople yet.": "还没有销售人员。",
    # Sources and money
    "New customers by source": "新增客户来源",
    "Source": "来源",
    "Share": "占比",
    "Total": "合计",
    "Revenue by class": "各班级收入",
    "Refunds": "退款",
    "No payments in this period.": "本期没有缴费记录。",
    # Classes
    "Classes running during the period; attendance and scores of their lessons in the period.": (
        "所选时间段内在读的班级；出勤率和平均成绩按本期的课程计算。"
    ),
    "Class type": "班级类型",
    "Dates": "起止日期",
    "Lessons": "本期课次",
    "Attendance": "出勤率",
    "No class runs during this period.": "本期没有在读的班级。",
    # Notes under the figures
    "Days are those of the school's time zone; the first and the last day are included.": (
        "日期按学校所在时区计算，包含开始和结束当天。"
    ),
    "Revenue counts confirmed payments paid in the period; refunds and drop-outs are subtracted. Rejected "
    "and deleted payments do not count.": (
        "收入统计本期缴纳且已确认的款项，退款和退学金额已扣除；已驳回和已删除的缴费不计入。"
    ),
    "Conversion: customers created in the period who have signed up, study or paid in full, among all "
    "customers created in the period.": (
        "转化率：本期录入的客户中，已报名、学习中或学费已交齐的客户所占的比例。"
    ),
    "Attendance counts checked-in, late and early-leaving students as present. The average score leaves "
    "ungraded records (N/A) out and counts copied or failed homework as zero.": (
        "出勤率把已签到、迟到和早退都算作出勤。平均成绩不计未评分的记录，抄袭和不及格按 0 分计算。"
    ),
}
