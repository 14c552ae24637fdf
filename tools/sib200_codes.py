"""SIB-200's language names in the codes of the language-ID tools that name languages by ISO 639-3.

A model trained on every SIB-200 language (configs/langid-sib200-all.yaml) has SIB-200's folder names as labels:
an ISO 639-3 code and an ISO 15924 script, `deu_Latn`, `zho_Hant`. The language-ID benchmark (tools/langid_bench.py)
restricts each tool to the labels it can answer, so it needs each label in the tool's own code, and must never
read one tool code as two labels it cannot tell apart. heliport and lingua name languages by ISO 639-3, so a label's
code is its ISO 639-3 part, or the code in ALSO_KNOWN_AS when the tool lacks that part; every such code and every
label left out below was checked against the tool's own code list and its answers on SIB-200's test sentences
(tests/test_langid_bench.py). fastText's lid.176 and langid.py name languages by ISO 639-1, and lid.176 by
codes of its own besides, some of them ISO 639-3 codes of other languages (its `als` is Alemannic, SIB-200's
als_Latn Tosk Albanian): mapping SIB-200's names to them would need an outside table checked code by code, so
they support none of these labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.data.language_codes import SIB_FOLDERS

SIB_NAME = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")

# The ISO 639-3 code a tool may know a SIB-200 language by when it lacks the language's own: the macrolanguage
# whose standard variety the language is (Standard Arabic is heliport's and lingua's ara, Standard Malay their msa,
# Tosk Albanian sqi, North Azerbaijani aze, Standard Latvian lav, Odia ori, Nepali nep, Swahili swa, Ayacucho
# Quechua que, Eastern Yiddish yid, Halh Mongolian mon, Plateau Malagasy mlg, Iranian Persian lingua's fas), and
# Mandarin, cmn, for Chinese (zho, the macrolanguage; SIB-200's Chinese in both scripts is Mandarin). Each entry
# gives a code one label: the macrolanguage's other members in SIB-200 (the Arabic dialects, Indonesian and
# Minangkabau under msa, South Azerbaijani under aze, Latgalian under lav, Dari under fas) are not listed, since the
# tool's code cannot tell them from the standard variety, and so are left out unless the tool has their own code
# (lingua's Indonesian, ind).
# Serbo-Croatian is the one code for two labels: heliport's hbs, read by script (tools/langid_bench.py's hbs_label:
# text with a Cyrillic letter is srp_Cyrl, other text hrv_Latn, SIB-200's Serbian being Cyrillic and its Croatian
# Latin). bos_Latn is not listed: Latin hbs cannot say Bosnian from Croatian, so heliport leaves it out.
ALSO_KNOWN_AS = {
    "arb": "ara", "zsm": "msa", "als": "sqi", "azj": "aze", "lvs": "lav", "ory": "ori", "npi": "nep", "swh": "swa",
    "quy": "que", "ydd": "yid", "khk": "mon", "plt": "mlg", "pes": "fas", "zho": "cmn", "hrv": "hbs", "srp": "hbs",
}

# Simplified and traditional Chinese are one Unicode script (Han), so no script test tells zho_Hans from zho_Hant,
# and each tool has one code for Chinese: that code is read as zho_Hans (as eld's zh), and zho_Hant is left out.
# Cantonese, yue_Hant, is in neither tool's code list.
ONE_SCRIPT_TWINS = {"zho_Hant"}

# Labels whose code the tool knows only in another script, left out: the tool's model for that code never answered
# it on SIB-200's test sentences of the label. heliport: Acehnese, Central Kanuri and Arabic are its Latin (ace, knc)
# and Arabic (ara) scripts only, Northern Uzbek (uzn) its Cyrillic only; lingua: Arabic is its Arabic script only.
HELIPORT_OTHER_SCRIPT = {"ace_Arab", "knc_Arab", "arb_Latn", "uzn_Latn"}
LINGUA_OTHER_SCRIPT = {"arb_Latn"}


def sib_folder(label: str) -> str | None:
    """The SIB-200 folder of a label: eld's codes through SIB_FOLDERS, SIB-200's names are their own folder."""
    return SIB_FOLDERS.get(label) or (label if SIB_NAME.fullmatch(label) else None)


def iso_codes(labels: Iterable[str], known: set[str], other_script: set[str]) -> dict[str, str]:
    """SIB-200 names among `labels` -> the code a tool with the ISO 639-3 codes `known` answers for them: the name's
    own code, else ALSO_KNOWN_AS's; names it cannot answer (ONE_SCRIPT_TWINS, `other_script`) and other labels
    are absent."""
    codes = {}
    for label in labels:
        if not SIB_NAME.fullmatch(label) or label in ONE_SCRIPT_TWINS | other_script:
            continue
        language = label.split("_")[0]
        code = language if language in known else ALSO_KNOWN_AS.get(language)
        if code in known:
            codes[label] = code
    return codes


def heliport_codes(labels: Iterable[str], known: set[str]) -> dict[str, str]:
    """SIB-200 names -> heliport's codes, `known` being its code list (get_confidence_all)."""
    return iso_codes(labels, known, HELIPORT_OTHER_SCRIPT)


def lingua_codes(labels: Iterable[str], known: set[str]) -> dict[str, str]:
    """SIB-200 names -> lingua's ISO 639-3 codes (lowercase), `known` being those of its languages."""
    return iso_codes(labels, known, LINGUA_OTHER_SCRIPT)
