#!/usr/bin/env python3
"""Times the reference implementation's eNTK scheme (REFERENCE.md §5.3) in PyTorch, for comparison with
lmkernel on the same shapes: jacrev of the output over the parameters on a train block, then for every
(train example, logit) a jvp of every test block along that gradient (vmap(vmap(jvp))); SignGD: Jacobians
on both sides and a float64 einsum of their signs. RoBERTa-base shapes, random weights, no download.
Usage: python3 scripts/reference-scheme.py [--train 32] [--test 1000] [--len 64] [--labels 2]
       [--outer 4] [--inner 16] [--formula sgd|signgd] [--device cuda] [--max-test-blocks N]
Prints one JSON line. --max-test-blocks times a prefix of the test blocks and extrapolates (stated)."""
import argparse, json, time
import torch
from torch.func import functional_call, jacrev, jvp, vmap

p = argparse.ArgumentParser()
p.add_argument('--train', type=int, default=32); p.add_argument('--test', type=int, default=1000)
p.add_argument('--len', type=int, default=64); p.add_argument('--labels', type=int, default=2)
p.add_argument('--outer', type=int, default=4); p.add_argument('--inner', type=int, default=16)
p.add_argument('--formula', default='sgd'); p.add_argument('--device', default='cuda')
p.add_argument('--max-test-blocks', type=int, default=0)
a = p.parse_args()
from transformers import RobertaConfig, RobertaForMaskedLM  # noqa: E402  (PyTorch host only)

torch.manual_seed(0)
cfg = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1)
model = RobertaForMaskedLM(cfg).to(a.device).eval()
params = {k: v.detach() for k, v in model.named_parameters()}
label_ids = torch.tensor([6587, 372, 1099, 205, 2770, 1313][: a.labels], device=a.device)

def f(p, ids, mask_pos):
    logits = functional_call(model, p, (ids,)).logits
    return logits[torch.arange(ids.shape[0], device=ids.device), mask_pos][:, label_ids]

def batch(n):
    ids = torch.randint(3, 50000, (n, a.len), device=a.device); ids[:, 0] = 0; ids[:, -1] = 2
    mp = torch.full((n,), a.len - 3, device=a.device); ids[:, a.len - 3] = 50264
    return ids, mp

train, test = batch(a.train), batch(a.test)
blocks = list(range(0, a.test, a.inner))
if a.max_test_blocks: blocks = blocks[: a.max_test_blocks]
torch.cuda.synchronize() if a.device.startswith('cuda') else None
t0 = time.time()
with torch.no_grad():
    for o in range(0, a.train, a.outer):
        ids, mp = train[0][o:o + a.outer], train[1][o:o + a.outer]
        G = jacrev(f)(params, ids, mp)  # {name: [B_o, C, *shape]}
        if a.formula == 'signgd':
            Gs = {k: torch.sign(v).flatten(2).double() for k, v in G.items()}
        for i in blocks:
            tids, tmp = test[0][i:i + a.inner], test[1][i:i + a.inner]
            if a.formula == 'sgd':
                def one(g):
                    return jvp(lambda p: f(p, tids, tmp), (params,), (g,))[1]
                vmap(vmap(one))(G)
            else:
                Gi = jacrev(f)(params, tids, tmp)
                sum(torch.einsum('olw,ikw->olik', Gs[k], torch.sign(v).flatten(2).double()) for k, v in Gi.items())
torch.cuda.synchronize() if a.device.startswith('cuda') else None
t = time.time() - t0
scale = (len(range(0, a.test, a.inner)) / len(blocks))
print(json.dumps({"scheme": "reference", "formula": a.formula, "train": a.train, "test": a.test, "len": a.len,
                  "outer": a.outer, "inner": a.inner, "seconds_measured": t, "test_blocks_timed": len(blocks),
                  "seconds": t * scale, "extrapolated": scale != 1}))
