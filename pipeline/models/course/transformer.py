"""A pre-LayerNorm transformer encoder classifier body, built on our own MultiHeadAttention."""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.models.course.attention import MultiHeadAttention
from pipeline.models.course.config import CourseConfig
from pipeline.models.course.positional import positional_encoding


class TransformerBlock(nn.Module):
    """x + MHA(LN(x)), then x + FFN(LN(x)).

    Pre-LN (Xiong et al. 2020) keeps an identity path from input to output through every block, so
    small models train without the learning-rate warm-up that post-LN needs to stay stable.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size)
        self.attention = MultiHeadAttention(config.hidden_size, config.num_heads, config.dropout)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.hidden_size, config.intermediate_size),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.intermediate_size, config.hidden_size),
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, key_padding_mask: Tensor) -> tuple[Tensor, Tensor]:
        """x: [batch, seq, hidden] -> (x, attention weights [batch, heads, seq, seq])."""
        attended, weights = self.attention(self.attention_norm(x), key_padding_mask)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))
        return x, weights


class TransformerEncoder(nn.Module):
    """Token embeddings + positions -> num_layers blocks -> final LayerNorm -> mean over real tokens.

    The final LayerNorm is needed because pre-LN blocks leave the residual stream unnormalised.
    Mean pooling (rather than a [CLS] vector) uses every token and works with any tokenizer.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.positional = positional_encoding(config.positional, config.hidden_size, config.max_length)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size)
        self.output_size = config.hidden_size

    def encode_tokens(
        self, input_ids: Tensor, attention_mask: Tensor, output_attentions: bool = False
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        """Per-token states [batch, seq, hidden], and per layer [batch, heads, seq, seq] weights if asked.

        States at padded positions are computed but meaningless: padded keys get no attention weight,
        and pooling skips padded queries.
        """
        key_padding_mask = attention_mask == 0
        x = self.dropout(self.positional(self.embeddings(input_ids)))
        attentions = []
        for block in self.blocks:
            x, weights = block(x, key_padding_mask)
            attentions.append(weights)
        return self.final_norm(x), tuple(attentions) if output_attentions else None

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, output_attentions: bool = False
    ) -> tuple[Tensor, tuple[Tensor, ...] | None]:
        """(pooled [batch, hidden], attentions or None)."""
        states, attentions = self.encode_tokens(input_ids, attention_mask, output_attentions)
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return pooled, attentions
