"""A bidirectional GRU whose final states summarise the text read left-to-right and right-to-left."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from pipeline.models.course.config import CourseConfig


def _gather_time(x: Tensor, index: Tensor) -> Tensor:
    """x[b, index[b, t]] for x [batch, seq, features] and index [batch, t]."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class BiGRUEncoder(nn.Module):
    """Embeddings -> num_layers bidirectional GRU layers -> [last forward state, last backward state].

    One nn.GRU per layer (not one multi-layer nn.GRU) because the export path must rebuild each
    layer's input from both directions itself; dropout between layers is applied here for the same
    reason. Inputs must be right-padded (the Hugging Face collators' default): lengths are taken from
    attention_mask, and the first `length` tokens are the text.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList(
            nn.GRU(config.hidden_size * (1 if i == 0 else 2), config.hidden_size, batch_first=True, bidirectional=True)
            for i in range(config.num_layers)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.hidden_size = config.hidden_size
        self.output_size = 2 * config.hidden_size

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[batch, 2 * hidden_size]; packed in eager mode, unpacked while tracing (PackedSequence does not export)."""
        if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
            return self._forward_unpacked(input_ids, attention_mask)
        return self._forward_packed(input_ids, attention_mask)

    def _forward_packed(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """The reference path: packing makes each direction start and stop at the text's own ends."""
        lengths = attention_mask.long().sum(dim=-1).clamp(min=1).cpu()  # an all-padding row reads one pad token
        x = pack_padded_sequence(self.embeddings(input_ids), lengths, batch_first=True, enforce_sorted=False)
        for i, gru in enumerate(self.layers):
            if i:
                x = x._replace(data=self.dropout(x.data))
            x, final = gru(x)
        return torch.cat((final[0], final[1]), dim=-1)  # final is unsorted back to batch order by torch

    def _forward_unpacked(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Same result as the packed path for right-padded inputs, from plain tensors only.

        Run over right-padded input, a GRU's forward direction is right at every real position (it has
        not reached the padding yet) but its backward direction starts in the padding. So each layer
        runs twice: once as is, keeping the forward half, and once on the input rolled so that each
        text ends at the last position (left-padded), keeping the backward half, which there starts at
        the text's last token; that half is rolled back into place. Twice the compute, only at export.
        """
        seq = input_ids.shape[1]
        lengths = attention_mask.long().sum(dim=-1, keepdim=True).clamp(min=1)  # [batch, 1]
        positions = torch.arange(seq, device=input_ids.device).unsqueeze(0)  # [1, seq]
        to_left_padded = (positions + lengths) % seq  # left[j] = right[(j + length) mod seq]
        to_right_padded = (positions - lengths + seq) % seq  # right[i] = left[(i - length) mod seq]
        x = self.embeddings(input_ids)
        for i, gru in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            forward_states, _ = gru(x)
            backward_states, _ = gru(_gather_time(x, to_left_padded))
            x = torch.cat(
                (
                    forward_states[..., : self.hidden_size],
                    _gather_time(backward_states[..., self.hidden_size :], to_right_padded),
                ),
                dim=-1,
            )
        last_forward = _gather_time(x[..., : self.hidden_size], lengths - 1)[:, 0]  # state after the last token
        last_backward = x[:, 0, self.hidden_size :]  # the backward direction ends at the first token
        return torch.cat((last_forward, last_backward), dim=-1)
