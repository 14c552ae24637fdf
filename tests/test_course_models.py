"""The course models: attention against torch's reference kernels, padding and order behaviour, training,
Hugging Face save/load and Trainer, and ONNX export parity. Tiny sizes throughout: the file runs in seconds."""

from __future__ import annotations

import math
from pathlib import Path

import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification

from pipeline.config import TextCnnModel
from pipeline.errors import ParityError
from pipeline.models import onnx_export
from pipeline.models.course import (
    KINDS,
    CourseConfig,
    CourseForSequenceClassification,
    build_course_model,
    register,
)
from pipeline.models.course.attention import MultiHeadAttention, scaled_dot_product_attention
from pipeline.models.course.bigru import BiGRUEncoder
from pipeline.models.onnx_export import export_onnx, right_padded_batch

VOCAB = 50
PAD = 0
LABELS = ["de", "en", "fr", "ru"]
ID2LABEL = dict(enumerate(LABELS))
LABEL2ID = {label: i for i, label in ID2LABEL.items()}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared with training runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make(kind: str, seed: int = 0, **overrides: object) -> CourseForSequenceClassification:
    values = dict(
        kind=kind,
        vocab_size=VOCAB,
        pad_token_id=PAD,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        intermediate_size=32,
        dropout=0.1,
        max_length=24,
        ngram_buckets=512,
        cnn_channels=8,
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    torch.manual_seed(seed)
    return CourseForSequenceClassification(CourseConfig(**(values | overrides)))


def logits(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=attention_mask).logits


# --- attention -------------------------------------------------------------------------------------------


def _key_padding_mask(keys: int, real: list[int]) -> torch.Tensor:
    return torch.arange(keys).unsqueeze(0) >= torch.tensor(real).unsqueeze(1)  # True marks padding


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_matches_torch_sdpa(dtype: torch.dtype, atol: float, masked: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(3, 2, 4, 8, dtype=dtype, generator=generator)
    k = torch.randn(3, 2, 6, 8, dtype=dtype, generator=generator)
    v = torch.randn(3, 2, 6, 5, dtype=dtype, generator=generator)
    padding = _key_padding_mask(6, [6, 3, 1]) if masked else None

    output, weights = scaled_dot_product_attention(q, k, v, padding)

    reference = F.scaled_dot_product_attention(
        q, k, v, attn_mask=None if padding is None else ~padding[:, None, None, :]
    )
    torch.testing.assert_close(output, reference, atol=atol, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 4, dtype=dtype), atol=atol, rtol=0)
    if masked:
        assert torch.all(weights.masked_select(padding[:, None, None, :].expand_as(weights)) == 0)


def test_attention_over_only_padding_is_finite() -> None:
    q = torch.randn(1, 3, 4)
    output, weights = scaled_dot_product_attention(q, q, q, torch.ones(1, 3, dtype=torch.bool))
    assert torch.isfinite(output).all() and torch.isfinite(weights).all()


@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_attention_matches_torch(masked: bool) -> None:
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(16, 4, batch_first=True, dtype=torch.float64).eval()
    ours = MultiHeadAttention(16, 4).double().eval()
    with torch.no_grad():
        ours.in_proj.weight.copy_(reference.in_proj_weight)
        ours.in_proj.bias.copy_(reference.in_proj_bias)
        ours.out_proj.weight.copy_(reference.out_proj.weight)
        ours.out_proj.bias.copy_(reference.out_proj.bias)
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    padding = _key_padding_mask(5, [5, 2, 4]) if masked else None

    output, weights = ours(x, padding)

    expected, expected_heads = reference(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    _, expected_mean = reference(x, x, x, key_padding_mask=padding, average_attn_weights=True)
    assert weights.shape == (3, 4, 5, 5)
    torch.testing.assert_close(output, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(weights, expected_heads, atol=1e-10, rtol=0)
    torch.testing.assert_close(weights.mean(dim=1), expected_mean, atol=1e-10, rtol=0)


def test_attention_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 3, 4, dtype=torch.float64, generator=generator, requires_grad=True) for _ in range(3))
    padding = _key_padding_mask(3, [3, 2])
    assert torch.autograd.gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, padding), (q, k, v))


def test_multi_head_attention_gradients() -> None:
    torch.manual_seed(0)
    attention = MultiHeadAttention(4, 2).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    padding = _key_padding_mask(3, [3, 1])
    assert torch.autograd.gradcheck(lambda x: attention(x, padding), (x,))


# --- behaviour of the classifiers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,positional",
    [
        ("transformer", "sinusoidal"),
        ("transformer", "learned"),
        ("ngram_mlp", "none"),
        ("textcnn", "none"),
        ("bigru", "none"),
    ],
)
def test_padding_does_not_change_logits(kind: str, positional: str) -> None:
    model = make(kind, positional=positional).eval()
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [7, 4, 2, 1])
    # Extra positions hold real-looking token ids, so only attention_mask can tell the model to skip them.
    extra = torch.randint(1, VOCAB, (4, 5), generator=torch.Generator().manual_seed(1))
    longer_ids = torch.cat((input_ids, extra), dim=1)
    longer_mask = torch.cat((attention_mask, torch.zeros_like(extra)), dim=1)
    longer_ids[:, :7] = longer_ids[:, :7].masked_fill(attention_mask == 0, 7)  # and so do the original pads

    expected = logits(model, input_ids, attention_mask)
    torch.testing.assert_close(logits(model, longer_ids, longer_mask), expected, atol=1e-5, rtol=0)


def test_textcnn_padding_cannot_win_the_max() -> None:
    """Rig every window over real tokens to score below the bias, which is what a window of padding scores."""
    model = make("textcnn", dropout=0.0).eval()
    with torch.no_grad():
        model.encoder.embeddings.weight.abs_()
        for conv in model.encoder.convs:
            conv.weight.copy_(-conv.weight.abs())
            conv.bias.fill_(5.0)
    input_ids = torch.tensor([[3, 4, 0, 0, 0, 0]])
    attention_mask = torch.tensor([[1, 1, 0, 0, 0, 0]])
    with torch.no_grad():
        padded = model.encoder(input_ids, attention_mask)
        unpadded = model.encoder(input_ids[:, :2], attention_mask[:, :2])
    assert padded.max() < 5.0
    torch.testing.assert_close(padded, unpadded)


def test_transformer_returns_attention_per_layer_with_no_weight_on_padding() -> None:
    model = make("transformer", num_layers=3).eval()
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [6, 3])
    with torch.no_grad():
        output = model(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
    assert len(output.attentions) == 3
    for weights in output.attentions:
        assert weights.shape == (2, 2, 6, 6)
        assert torch.all(weights[1, :, :, 3:] == 0)
    other = make("textcnn")(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
    assert other.attentions is None


@pytest.mark.parametrize("positional,equivariant", [("none", True), ("sinusoidal", False), ("learned", False)])
def test_encoder_is_permutation_equivariant_only_without_positions(positional: str, equivariant: bool) -> None:
    encoder = make("transformer", positional=positional).eval().encoder
    input_ids = torch.randint(1, VOCAB, (2, 9), generator=torch.Generator().manual_seed(0))
    attention_mask = torch.ones_like(input_ids)
    permutation = torch.randperm(9, generator=torch.Generator().manual_seed(1))

    with torch.no_grad():
        states, _ = encoder.encode_tokens(input_ids, attention_mask)
        permuted, _ = encoder.encode_tokens(input_ids[:, permutation], attention_mask)

    assert torch.allclose(permuted, states[:, permutation], atol=1e-5) is equivariant


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_overfits_a_tiny_batch(kind: str) -> None:
    model = make(kind, hidden_size=32)
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [9, 8, 7, 6, 5, 4, 3, 2], seed=3)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    accuracy = 0.0
    for step in range(200):
        model.train()
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 9:
            accuracy = (logits(model.eval(), input_ids, attention_mask).argmax(-1) == labels).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0, f"{kind} reached training accuracy {accuracy} after 200 steps"


def test_loss_is_cross_entropy_and_token_type_ids_are_ignored() -> None:
    model = make("transformer").eval()
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [5, 2])
    labels = torch.tensor([3, 1])
    with torch.no_grad():
        output = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        token_type_ids = torch.ones_like(input_ids)
        with_types = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        without_mask = model(input_ids=input_ids)  # padding then comes from pad_token_id
    torch.testing.assert_close(output.loss, F.cross_entropy(output.logits, labels))
    torch.testing.assert_close(with_types.logits, output.logits)
    torch.testing.assert_close(without_mask.logits, output.logits)


def test_init_is_deterministic_under_manual_seed() -> None:
    for kind in KINDS:
        first, again, other = (make(kind, seed=seed).state_dict() for seed in (5, 5, 6))
        assert all(torch.equal(first[name], again[name]) for name in first), kind
        assert not all(torch.equal(first[name], other[name]) for name in first), kind
    # PyTorch's init, not transformers' N(0, 0.02): token embeddings on the scale of the sinusoids
    assert 0.8 < make("transformer").encoder.embeddings.weight.std().item() < 1.2


def test_bigru_export_path_equals_packed_path() -> None:
    encoder = make("bigru", num_layers=3).eval().encoder
    assert isinstance(encoder, BiGRUEncoder)
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [4, 9, 1, 6, 9])
    with torch.no_grad():
        packed = encoder._forward_packed(input_ids, attention_mask)
        unpacked = encoder._forward_unpacked(input_ids, attention_mask)
    assert packed.shape == (5, 32)
    torch.testing.assert_close(unpacked, packed, atol=1e-6, rtol=0)


def test_bigru_without_packing_or_realignment_would_read_padding() -> None:
    """Why the export path exists: a plain bidirectional GRU run over padding gets other final states."""
    encoder = make("bigru", num_layers=1).eval().encoder
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [9, 4])
    with torch.no_grad():
        _, final = encoder.layers[0](encoder.embeddings(input_ids))
        naive = torch.cat((final[0], final[1]), dim=-1)
        packed = encoder._forward_packed(input_ids, attention_mask)
    torch.testing.assert_close(naive[0], packed[0], atol=1e-6, rtol=0)  # no padding: the same
    assert not torch.allclose(naive[1], packed[1], atol=1e-3)


# --- Hugging Face integration ----------------------------------------------------------------------------


def test_build_course_model_and_registration() -> None:
    register()  # importing the package registered already; again must be harmless
    torch.manual_seed(0)
    section = TextCnnModel(max_length=24, hidden_size=16, dropout=0.0)
    model = build_course_model(section, VOCAB, PAD, ID2LABEL, LABEL2ID)
    assert isinstance(model, CourseForSequenceClassification)
    assert model.config.kind == "textcnn" and model.config.num_labels == 4 and model.config.max_length == 24
    assert model.config.hidden_size == 16 and model.config.dropout == 0.0
    assert isinstance(AutoConfig.for_model("course"), CourseConfig)
    with pytest.raises(ValueError, match="kind must be one of"):
        CourseConfig(kind="lstm")
    with pytest.raises(ValueError, match="kind must be one of"):  # the production model is not a course kind
        CourseConfig(kind="char_ngram")


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_auto_load_round_trip(kind: str, tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    model = make(kind).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not [w for w in recwarn if "generation" in str(w.message)]  # max_length is not a generation setting

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()

    assert type(loaded) is CourseForSequenceClassification
    assert loaded.config.kind == kind and loaded.config.id2label == ID2LABEL and loaded.config.label2id == LABEL2ID
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [6, 3, 1])
    assert torch.equal(logits(loaded, input_ids, attention_mask), logits(model, input_ids, attention_mask))


def test_trainer_trains_and_saves(tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, default_data_collator

    model = make("transformer")
    input_ids, attention_mask = right_padded_batch(VOCAB, PAD, [6, 5, 4, 3, 6, 5, 4, 3])
    data = Dataset.from_dict(
        {
            "input_ids": input_ids.tolist(),
            "attention_mask": attention_mask.tolist(),
            "token_type_ids": torch.zeros_like(input_ids).tolist(),
            "labels": [0, 1, 2, 3, 0, 1, 2, 3],
        }
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    args = TrainingArguments(
        output_dir=str(tmp_path / "checkpoints"), max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2,
        report_to="none", use_cpu=True, save_strategy="no", logging_strategy="no", disable_tqdm=True,
        gradient_accumulation_steps=2, seed=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=data, eval_dataset=data, data_collator=default_data_collator
    )
    assert trainer.model_accepts_loss_kwargs is False

    trainer.train()
    metrics = trainer.evaluate()
    trainer.save_model(str(tmp_path / "model"))

    assert math.isfinite(metrics["eval_loss"])
    assert any(not torch.equal(before[name], p) for name, p in model.named_parameters())
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "model").config.kind == "transformer"


# --- ONNX ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_export_matches_pytorch(kind: str, tmp_path: Path) -> None:
    model = make(kind)  # left in training mode on purpose: export must not depend on the caller's mode
    path = tmp_path / "model.onnx"

    export_onnx(model, path)

    assert model.training
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    model.eval()
    for lengths in ([13, 9, 4, 2, 1], [5]):
        input_ids, attention_mask = right_padded_batch(VOCAB, PAD, lengths, seed=7)
        (actual,) = session.run(["logits"], {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        expected = logits(model, input_ids, attention_mask)
        torch.testing.assert_close(torch.from_numpy(actual), expected, atol=1e-4, rtol=0)


def test_onnx_export_refuses_a_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "ATOL", -1.0)  # any difference, even 0, now counts as a mismatch
    with pytest.raises(ParityError, match="logits differ by up to"):
        export_onnx(make("textcnn"), tmp_path / "model.onnx")
