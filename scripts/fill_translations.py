"""Fill a .po file from the translation dicts and compile it: fill_translations.py PO DIR

Each DIR/<area>.py defines TRANSLATIONS = {"English source": "中文", ...}: one file per area of
the product, so that parallel work never edits the same file. The .po is derived from the source
(makemessages) and these dicts; the committed .po and compiled .mo are what the app reads.
"""

import runpy
import sys
from pathlib import Path

import polib


def main(po_path: str, dict_dir: str) -> int:
    translations = {}
    for dict_path in sorted(Path(dict_dir).glob("*.py")):
        translations.update(runpy.run_path(str(dict_path))["TRANSLATIONS"])
    catalog = polib.pofile(po_path, wrapwidth=0)
    for entry in catalog:
        if entry.obsolete or not entry.msgid:
            continue
        if entry.msgid in translations:
            entry.msgstr = translations[entry.msgid]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        else:
            print(f"untranslated: {entry.msgid!r}")
    catalog.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    catalog.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
    catalog.metadata["Language"] = "zh_Hans"
    catalog.metadata_is_fuzzy = []
    catalog.save(po_path)
    catalog.save_as_mofile(po_path[:-3] + ".mo")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
