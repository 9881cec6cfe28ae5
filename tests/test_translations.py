"""The Chinese catalogues: every message translated, and the compiled .mo what the .po says."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

CATALOGUES = [Path(path) / "zh_Hans" / "LC_MESSAGES" / "django.po" for path in settings.LOCALE_PATHS]


def _messages(catalogue) -> dict[tuple[str | None, str], tuple[str, ...]]:
    messages = {}
    for entry in catalogue:
        if entry.obsolete or not entry.msgid:
            continue
        translation = tuple(entry.msgstr_plural.values()) if entry.msgid_plural else (entry.msgstr,)
        messages[(entry.msgctxt, entry.msgid)] = translation
    return messages


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.parent.name))
def test_every_message_of_the_catalogue_is_translated(po_path):
    catalogue = polib.pofile(str(po_path))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries() if entry.msgid]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.parent.name))
def test_the_compiled_catalogue_is_the_source_compiled(po_path):
    source = _messages(polib.pofile(str(po_path)))
    compiled = _messages(polib.mofile(str(po_path.with_suffix(".mo"))))
    assert compiled == source, "run `make messages` to compile the .po"


def test_every_marked_string_of_the_source_is_in_the_catalogue():
    # makemessages would add it untranslated: a string marked in the code but missing from the .po
    # shows in English on a Chinese screen.
    import subprocess
    import tempfile

    crm_dir = Path(settings.BASE_DIR) / "crm"
    with tempfile.TemporaryDirectory() as scratch:
        pot = Path(scratch) / "source.pot"
        sources = sorted(
            str(path.relative_to(crm_dir)) for path in crm_dir.rglob("*.py") if "migrations" not in path.parts
        )
        subprocess.run(
            [
                "xgettext",
                "--language=Python",
                "--from-code=UTF-8",
                "--keyword=gettext_lazy",
                "--keyword=_",
                "--keyword=gettext_noop",
                "--keyword=pgettext:1c,2",
                "--keyword=pgettext_lazy:1c,2",
                "--keyword=ngettext:1,2",
                "--keyword=ngettext_lazy:1,2",
                "-o",
                str(pot),
                *sources,
            ],
            cwd=crm_dir,
            check=True,
        )
        marked = {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(pot)) if entry.msgid}
    catalogue = _messages(polib.pofile(str(CATALOGUES[0])))
    assert sorted(marked - catalogue.keys(), key=str) == []
