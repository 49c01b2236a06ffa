#!/usr/bin/env python3
"""Times the reference implementation's eNTK scheme (REFERENCE.md §5.3) end to end in PyTorch, beside lmkernel
on the same shapes: for every train block of --outer examples, jacrev of the outputs over the parameters; then
for every inner block of --inner examples (the training set for train x train, the test set for train x test):
  sgd, asymmetric_signgd  vmap(vmap(jvp)) of the inner block along every (example, logit) gradient of the
                          train block (asymmetric_signgd: along its signs), cast to float64, moved to the CPU;
  signgd                  jacrev of the inner block, and the float64 einsum of both sides' signs on the CPU.
RoBERTa-base shapes with random weights and an untied decoder (as lmkernel's fixtures and bench), no download.
Nothing is extrapolated: every block is computed. Prints one JSON line, with the device of each step.
Usage: python3 scripts/reference-scheme.py [--train 32] [--test 250] [--len 64] [--labels 2] [--outer 4]
       [--inner 16] [--formula sgd|signgd|asymmetric_signgd] [--device cuda] [--layers 12] [--hidden 768]"""
import argparse, json, time
import torch
from torch.func import functional_call, jacrev, jvp, vmap

p = argparse.ArgumentParser()
p.add_argument('--train', type=int, default=32); p.add_argument('--test', type=int, default=250)
p.add_argument('--len', type=int, default=64); p.add_argument('--labels', type=int, default=2)
p.add_argument('--outer', type=int, default=4); p.add_argument('--inner', type=int, default=16)
p.add_argument('--formula', default='sgd', choices=['sgd', 'signgd', 'asymmetric_signgd'])
p.add_argument('--device', default='cuda')
p.add_argument('--layers', type=int, default=12); p.add_argument('--hidden', type=int, default=768)
a = p.parse_args()
from transformers import RobertaConfig, RobertaForMaskedLM  # noqa: E402  (the GPU host only)

torch.manual_seed(0)
cfg = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                    hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=max(1, a.hidden // 64),
                    intermediate_size=4 * a.hidden, tie_word_embeddings=False)
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


def sync():
    if a.device.startswith('cuda'):
        torch.cuda.synchronize()


def kernel(outer, inner):
    """The [N_outer, C, N_inner, C] kernel block by block, as the reference computes it."""
    rows = []
    for o in range(0, outer[0].shape[0], a.outer):
        G = jacrev(f)(params, outer[0][o:o + a.outer], outer[1][o:o + a.outer])  # {name: [B_o, C, *shape]}
        if a.formula == 'asymmetric_signgd':
            G = {k: torch.sign(v) for k, v in G.items()}
        if a.formula == 'signgd':
            Gs = {k: torch.sign(v).flatten(2).double().cpu() for k, v in G.items()}
        blocks = []
        for i in range(0, inner[0].shape[0], a.inner):
            ids, mp = inner[0][i:i + a.inner], inner[1][i:i + a.inner]
            if a.formula == 'signgd':
                Gi = jacrev(f)(params, ids, mp)
                blocks.append(sum(torch.einsum('olw,ikw->olik', Gs[k], torch.sign(v).flatten(2).double().cpu())
                                  for k, v in Gi.items()))
                del Gi
            else:
                def one(g):
                    return jvp(lambda q: f(q, ids, mp), (params,), (g,))[1]
                blocks.append(vmap(vmap(one))(G).double().cpu())
            if a.device.startswith('cuda'):
                torch.cuda.empty_cache()
        rows.append(torch.cat(blocks, 2))
        del G
    return torch.cat(rows, 0)


train, test = batch(a.train), batch(a.test)
sync()
t0 = time.time()
with torch.no_grad():
    k_tt = kernel(train, train)
    k_te = kernel(train, test)
sync()
t = time.time() - t0
print(json.dumps({"scheme": "reference", "formula": a.formula, "train": a.train, "test": a.test, "len": a.len,
                  "labels": a.labels, "outer": a.outer, "inner": a.inner, "layers": a.layers, "hidden": a.hidden,
                  "seconds": round(t, 3), "extrapolated": False,
                  "shapes": {"train_train": list(k_tt.shape), "train_test": list(k_te.shape)},
                  "devices": {"jacrev": a.device, "jvp": a.device,
                              "sign_einsum_float64": "cpu" if a.formula == 'signgd' else None,
                              "blocks_collected": "cpu"}}))
