"""eld's ISO 639-1 language codes in the names other corpora and tools use, so they can be read for eld's labels.

SIB_FOLDERS serves the language-ID benchmark and the abstain curve (SIB-200 test sentences) and the optional
extra training data (SIB-200 train sentences); TATOEBA_CODES serves the extra training data only; HELIPORT_CODES
serves the language-ID benchmark's heliport.
"""

from __future__ import annotations

# eld's ISO 639-1 labels -> SIB-200 (Flores-200) folders. `ku` in eld is Sorani in Arabic script (ckb).
SIB_FOLDERS = {
    "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl", "bn": "ben_Beng",
    "ca": "cat_Latn", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn",
    "es": "spa_Latn", "et": "est_Latn", "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn",
    "gu": "guj_Gujr", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn",
    "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor", "kn": "kan_Knda", "ko": "kor_Hang",
    "ku": "ckb_Arab", "lt": "lit_Latn", "lv": "lvs_Latn", "ml": "mal_Mlym", "mr": "mar_Deva", "ms": "zsm_Latn",
    "nl": "nld_Latn", "no": "nob_Latn", "or": "ory_Orya", "pa": "pan_Guru", "pl": "pol_Latn", "pt": "por_Latn",
    "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn", "sq": "als_Latn", "sr": "srp_Cyrl",
    "sv": "swe_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn", "tr": "tur_Latn",
    "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn", "yo": "yor_Latn", "zh": "zho_Hans",
}

# eld's ISO 639-1 labels -> the ISO 639-3 code of a Tatoeba (LASER) file pair, tatoeba.<xxx>-eng.<xxx>.
# Macrolanguages are named by the variety Tatoeba has: ar -> ara (Arabic, mostly Standard), zh -> cmn
# (Mandarin, simplified and traditional characters mixed, as eld's zh is), fa -> pes, ms -> zsm, no -> nob,
# lv -> lvs, et -> est, sq -> sqi, az -> aze (all Latin script, as eld's az).
# Left out, and so never read:
#   en: Tatoeba's English is the pivot side of every pair, not a file of its own; eld has English enough.
#   ku: Tatoeba's `kur` is Kurmanji in Latin script; eld's `ku` is Sorani in Arabic script.
#   sr: Tatoeba's `srp` is 70% Latin script (698 of 1000 lines); eld's and SIB-200's sr are Cyrillic.
#   gu, kn, lo, or, pa, yo: Tatoeba (LASER v1) has no file for them.
TATOEBA_CODES = {
    "am": "amh", "ar": "ara", "az": "aze", "be": "bel", "bg": "bul", "bn": "ben", "ca": "cat", "cs": "ces",
    "da": "dan", "de": "deu", "el": "ell", "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin",
    "fr": "fra", "he": "heb", "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye", "is": "isl", "it": "ita",
    "ja": "jpn", "ka": "kat", "ko": "kor", "lt": "lit", "lv": "lvs", "ml": "mal", "mr": "mar", "ms": "zsm",
    "nl": "nld", "no": "nob", "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv",
    "sq": "sqi", "sv": "swe", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr",
    "ur": "urd", "vi": "vie", "zh": "cmn",
}

# eld's ISO 639-1 labels -> the word lists of the PyPI package wordfreq (3.1), whose codes match eld's except
# no -> nb (Bokmål, what eld's Norwegian mostly is), tl -> fil, and hr -> sh: wordfreq's Serbo-Croatian, whose
# words are all in Latin script (Croatian, Bosnian and Serbian spellings together). Without it, Slovene's drawn
# words outweighed Croatian's, and Croatian fell to 0.966 on SIB-200, most of its errors Slovene.
# sr -> sh too, transliterated to Cyrillic (eld's and SIB-200's Serbian script; pipeline/data/serbian_cyrillic.py):
# WORDFREQ_CYRILLIC names the labels whose words are transliterated.
# Left out, and so never read:
#   zh, ja: written without spaces; wordfreq's words joined by spaces would teach a spacing no text has.
#   ko: its list holds morphemes split by MeCab (particles apart from their nouns), not words as written.
#   Every other eld language (am, az, be, et, eu, gu, hy, ka, kn, ku, ml, mr, or, pa, sq, te, th, yo): no list.
WORDFREQ_CODES = {
    "ar": "ar", "bg": "bg", "bn": "bn", "ca": "ca", "cs": "cs", "da": "da", "de": "de", "el": "el", "en": "en",
    "es": "es", "fa": "fa", "fi": "fi", "fr": "fr", "he": "he", "hi": "hi", "hr": "sh", "hu": "hu", "is": "is", "it": "it",
    "lt": "lt", "lv": "lv", "ms": "ms", "nl": "nl", "no": "nb", "pl": "pl", "pt": "pt", "ro": "ro", "ru": "ru", "sr": "sh",
    "sk": "sk", "sl": "sl", "sv": "sv", "ta": "ta", "tl": "fil", "tr": "tr", "uk": "uk", "ur": "ur", "vi": "vi",
}
WORDFREQ_CYRILLIC = {"sr"}

# eld's ISO 639-1 labels (those SIB-200 has) -> heliport's codes (ISO 639-3), for the language-ID benchmark.
# Macrolanguages are named as heliport names them: ar -> ara, zh -> cmn, ms -> msa, lv -> lav, sq -> sqi,
# az -> aze, or -> ori, et -> est; fa -> pes, ku -> ckb (Sorani), and no -> nob only (Bokmål, SIB-200's
# Norwegian; heliport's Nynorsk, nno, is left out as lingua's and fastText's are).
# hr and sr -> hbs: heliport ranks one Serbo-Croatian code. Its confidence table also lists hbsbos, hbshrv
# and hbssrp, but identify and identify_topk never answer them; the benchmark reads hbs by script, Cyrillic
# -> sr, Latin -> hr (eld's and SIB-200's Serbian is Cyrillic, their Croatian Latin; tools/langid_bench.py).
HELIPORT_CODES = {
    "am": "amh", "ar": "ara", "az": "aze", "be": "bel", "bg": "bul", "bn": "ben", "ca": "cat", "cs": "ces",
    "da": "dan", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "et": "est", "eu": "eus", "fa": "pes",
    "fi": "fin", "fr": "fra", "gu": "guj", "he": "heb", "hi": "hin", "hr": "hbs", "hu": "hun", "hy": "hye",
    "is": "isl", "it": "ita", "ja": "jpn", "ka": "kat", "kn": "kan", "ko": "kor", "ku": "ckb", "lt": "lit",
    "lv": "lav", "ml": "mal", "mr": "mar", "ms": "msa", "nl": "nld", "no": "nob", "or": "ori", "pa": "pan",
    "pl": "pol", "pt": "por", "ro": "ron", "ru": "rus", "sk": "slk", "sl": "slv", "sq": "sqi", "sr": "hbs",
    "sv": "swe", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd",
    "vi": "vie", "yo": "yor", "zh": "cmn",
}
