"""Kim (2014) TextCNN: n-gram detectors as 1-D convolutions, each keeping its strongest match in the text."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pipeline.models.course.config import CourseConfig


class TextCNNEncoder(nn.Module):
    """Embeddings -> one Conv1d per kernel size -> masked max over time -> ReLU, concatenated.

    There is one window per token, starting at it; embeddings at padded positions are zeroed and each
    text is zero-extended by kernel_size - 1 past its end. A window's value therefore depends only on
    the text, texts shorter than the kernel still get one window per token, and windows starting on
    padding are masked out of the max, so the amount of padding never changes the result.
    """

    def __init__(self, config: CourseConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.hidden_size, config.cnn_channels, kernel_size, padding=kernel_size - 1)
            for kernel_size in config.cnn_kernel_sizes
        )
        self.output_size = config.cnn_channels * len(config.cnn_kernel_sizes)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """[batch, cnn_channels * len(cnn_kernel_sizes)]."""
        real = attention_mask.bool()
        x = (self.embeddings(input_ids) * real.unsqueeze(-1).to(self.embeddings.weight.dtype)).transpose(1, 2)
        pooled = []
        for conv in self.convs:
            # padding=k-1 zero-extends both ends; dropping the first k-1 outputs (windows that start
            # before the text) leaves [batch, channels, seq] with window i starting at token i
            windows = conv(x)[..., conv.kernel_size[0] - 1 :]
            windows = windows.masked_fill(~real.unsqueeze(1), torch.finfo(windows.dtype).min)
            # ReLU after the max equals Kim's max after ReLU (ReLU is monotone) and turns the max of an
            # all-padding row into 0 instead of the masking value.
            pooled.append(torch.relu(windows.amax(dim=-1)))
        return torch.cat(pooled, dim=-1)
