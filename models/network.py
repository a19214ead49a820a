"""The tagger network: a transformer backbone and one tagging layer over every tag.

Scores: one shared "outside" score per subword plus a B and an I score per tag, i.e. one
softmax over ``O, B-tag1, I-tag1, ...`` as the standard token-classification recipe has it.
Why shared: with an independent B/I/O softmax per tag, each tag's B is so rare (0.3% of
WikiEvents words) that every head settled on "always O" and learnt nothing in 180 steps; one
softmax pools the evidence for "this word is some role" across tags, and learns within 60.

The network returns ``[batch, length, tags, 3]``: for tag ``h`` the triple ``(O, B-h, I-h)``
(the outside score repeated per tag), the shape decoding and storage work with; the loss and
decoding (``decoding.span_probabilities``) take the one softmax over all labels from it.

Partial annotation: a corpus that does not annotate a role (WikiEvents has no time) leaves that
tag's labels ``IGNORE``; the loss then takes "outside, or a span of an unannotated tag" as the
right answer for an unlabelled word (the marginal likelihood), so mixing corpora never teaches
"not time" from text nobody tagged for time. An optional word-shape embedding gives the
uncased default backbone a cased signal (capitalised, all caps, digits).
"""

from __future__ import annotations

import torch
from torch import nn

from eventroles.data.encoding import NUM_SHAPES
from eventroles.data.tags import BEGIN, IGNORE, INSIDE

N_BIO = 3


class RoleTagger(nn.Module):
    def __init__(self, backbone: nn.Module, n_heads: int, *, word_shape: bool = False, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        hidden = backbone.config.hidden_size
        self.n_heads = n_heads
        self.shape_embedding = nn.Embedding(NUM_SHAPES, hidden) if word_shape else None
        if self.shape_embedding is not None:
            nn.init.zeros_(self.shape_embedding.weight)  # starts as a no-op on the backbone's features
        self.dropout = nn.Dropout(dropout)
        # Output 0 is the shared outside score; 1 + 2h and 2 + 2h are tag h's B and I.
        self.heads = nn.Linear(hidden, 1 + 2 * n_heads)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        shapes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores ``[batch, length, n_heads, 3]``: (shared O, B, I) for every subword and tag."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.shape_embedding is not None and shapes is not None:
            hidden = hidden + self.shape_embedding(shapes)
        return per_tag_scores(self.heads(self.dropout(hidden)), self.n_heads)


def per_tag_scores(flat: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[..., 1 + 2 * n_heads]`` flat scores -> ``[..., n_heads, 3]`` triples (O, B-h, I-h)."""
    outside = flat[..., :1].unsqueeze(-2).expand(*flat.shape[:-1], n_heads, 1)
    spans = flat[..., 1:].reshape(*flat.shape[:-1], n_heads, 2)
    return torch.cat([outside, spans], dim=-1)


def flat_scores(per_tag: torch.Tensor) -> torch.Tensor:
    """The inverse of ``per_tag_scores``: ``[..., n_heads, 3]`` -> ``[..., 1 + 2 * n_heads]``."""
    return torch.cat([per_tag[..., 0, :1], per_tag[..., 1:].flatten(-2)], dim=-1)


def allowed_labels(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which flat labels count as right for each subword, from per-tag labels ``[..., heads]``.

    Returns ``(allowed [..., 1 + 2 * heads] bool, scored [...] bool, in_span [...] bool)``:
    a subword inside a gold span of some tag allows that tag's B or I (all of them when spans
    of two tags overlap); any other labelled subword allows O and the B/I of every tag whose
    role its corpus does not annotate. Subwords with no label at all are not scored.
    """
    begin, inside, ignored = labels == BEGIN, labels == INSIDE, labels == IGNORE
    scored = ~ignored.all(dim=-1)
    in_span = (begin | inside).any(dim=-1)
    span_labels = torch.stack([begin, inside], dim=-1).flatten(-2)
    free_labels = torch.stack([ignored, ignored], dim=-1).flatten(-2)
    outside = (~in_span).unsqueeze(-1)
    allowed = torch.where(in_span.unsqueeze(-1), span_labels, free_labels & outside)
    allowed = torch.cat([outside, allowed], dim=-1)
    return allowed, scored, in_span


def tagging_loss(logits: torch.Tensor, labels: torch.Tensor, span_weight: float = 1.0) -> torch.Tensor:
    """Mean negative log-likelihood of the allowed labels over the subwords that carry a label.

    ``logits`` is the network's ``[batch, length, n_heads, 3]``; ``labels`` is
    ``[batch, length, n_heads]`` with ``IGNORE`` where a subword is not a word's first, is
    padding, or where the document's corpus does not annotate that head's role.
    ``span_weight`` weighs subwords inside a span against the others. Why: where spans are rare
    (MUC-4: a filler starts at 0.2% of the words) the model settles on "always O" first and
    takes long to leave it; inference subtracts ``log(span_weight)`` to undo the prior shift.
    """
    flat = flat_scores(logits.float())
    allowed, scored, in_span = allowed_labels(labels)
    if not bool(scored.any()):
        return flat.sum() * 0.0
    flat, allowed, in_span = flat[scored], allowed[scored], in_span[scored]
    right = torch.logsumexp(flat.masked_fill(~allowed, float("-inf")), dim=-1)
    nll = torch.logsumexp(flat, dim=-1) - right
    weight = torch.where(in_span, torch.full_like(nll, span_weight), torch.ones_like(nll))
    return (nll * weight).sum() / weight.sum()
