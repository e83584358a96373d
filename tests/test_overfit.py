"""A tiny overfit: the model, loss and data pipeline can learn exact doubling of a few sentences."""

import torch
from helpers import tiny_model, tiny_tokenizer

from s2s.data import collate
from s2s.loss import masked_nll
from s2s.tokenizer import EOS_ID, PAD_ID

SENTENCES = ["I love CUDA", "TF is Aww", "my name is Sunil", "the cat sat on the mat", "a dog", "Bob"]


def test_tiny_overfit_reaches_exact_doubling():
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=0, hidden=64)
    batch = collate([tok.encode(s)[0] for s in SENTENCES])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(200):
        loss = masked_nll(model(batch.src, batch.lengths, batch.tgt_in), batch.tgt_out, PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    model.eval()
    gen = model.generate(batch.src, batch.lengths, top_k=1)
    for row, sentence in enumerate(SENTENCES):
        ids, slots = tok.encode(sentence)
        n = int(gen.num_steps[row])
        assert tok.decode(gen.tokens[row, :n].tolist(), slots) == " ".join(w for w in sentence.split() for _ in (0, 1))
        # Each row ends with its own <eos>, then stays finished (<pad>) while longer rows run on.
        assert n == 2 * len(ids) + 1 and gen.tokens[row, n - 1] == EOS_ID
        assert (gen.tokens[row, n:] == PAD_ID).all()
