TRANSLATIONS = {
    # Study record scores that are words, not letter grades
    "N/A": "未评分",
    "COPY": "抄袭",
    "FAIL": "不及格",
    "students": "学生",
    "Students": "学生",
    "Students (%(count)s)": "学生 (%(count)s)",
    "Students: %(count)s": "共 %(count)s 名学生",
    "Students of %(class)s": "%(class)s 的学生",
    "Course records (%(count)s)": "课程记录 (%(count)s)",
    "Study records (%(count)s)": "学习记录 (%(count)s)",
    "Lesson %(day)s %(title)s": "第%(day)s节 %(title)s",
    "Create study records for the students": "为学生批量创建学习记录",
    "%(record)s: %(created)d study records created, %(skipped)d skipped.": (
        "%(record)s: 已创建 %(created)d 条学习记录，跳过 %(skipped)d 条。"
    ),
    "%(record)s: the class has no studying students.": "%(record)s: 该班级没有在读学生。",
    "This class has no studying students.": "该班级没有在读学生。",
    "%(student)s is not a student of %(class)s.": "%(student)s 不是 %(class)s 的学生。",
    "start and graduation dates": "开班 / 结业日期",
}
