"""Wording fixes found by looking at the Chinese screens (area `polish`)."""

TRANSLATIONS = {
    # django-import-export's export page: its only button exports.
    "Submit": "导出",
}
