#!/usr/bin/env python3
"""Builds the GPU record of scripts/gpu-check (docs/gpu.md) from the files its steps wrote in $OUTDIR:
bench.json (native/bench/bench_kernel --modes ...), reference-<formula>.json (scripts/reference-scheme.py)
and fixtures-<precision>.txt (test_entk_fixtures). Plain Python (no torch): runs on the GPU host and here.
Environment: GPU, OUTDIR, RECORD, QUICK, REFERENCE, REFERENCE_TIMEOUT, FAILED (one failed step a line)."""
import json, os, re, sys

out = os.environ['OUTDIR']


def read_json(name):
    try:
        with open(os.path.join(out, name)) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError):
        return None


def fixture_errors(precision):
    """Max relative error per run (float64 / float32) over every case and kernel, from the test's lines."""
    errs = {}
    try:
        with open(os.path.join(out, f'fixtures-{precision}.txt')) as f:
            for line in f:
                m = re.search(r' (f64|f32)(?: fast)?\s.*max rel err ([0-9.e+-]+)', line)
                if m:
                    key = 'float64' if m.group(1) == 'f64' else 'float32'
                    errs[key] = max(errs.get(key, 0.0), float(m.group(2)))
    except OSError:
        pass
    return errs


bench = read_json('bench.json') or {}
reference = {f: read_json(f'reference-{f}.json') for f in ('sgd', 'signgd', 'asymmetric_signgd')}
results = []
for r in bench.get('results', []):
    ref = reference.get(r['formula'])
    row = dict(r)
    row['reference_seconds'] = ref['seconds'] if ref else None
    if not ref and os.environ.get('REFERENCE') == '1':
        row['reference_at_least_seconds'] = float(os.environ.get('REFERENCE_TIMEOUT', '0'))
    results.append(row)
fixtures = {p: fixture_errors(p) for p in ('exact', 'fast')}
record = {
    'gpu': os.environ.get('GPU', 'unknown'),
    'model': 'roberta-base' if os.environ.get('QUICK') != '1' else 'roberta-base-shaped (2 layers, hidden 64: --quick)',
    'train': bench.get('train'),
    'test': bench.get('test'),
    'max_tokens': bench.get('max_len'),
    'results': results,
    'sst5_64shot_seconds': bench.get('sst5_64shot_seconds'),
    'sst5_64shot_mode': bench.get('sst5_64shot_mode'),
    # the exact mode's float64 fixtures: the tight number (float32 and fast below)
    'fixtures_max_rel_err': fixtures['exact'].get('float64'),
    'fixtures_max_rel_err_by_run': {f'{d}_{p}': e for p, v in fixtures.items() for d, e in v.items()},
    'bench': {k: bench.get(k) for k in ('device', 'model', 'grad_dim', 'batch', 'labels', 'plan', 'sst5_shape')},
    'reference_devices': {f: r.get('devices') for f, r in reference.items() if r},
    'failed_steps': [s for s in os.environ.get('FAILED', '').splitlines() if s],
}
tmp = os.environ['RECORD'] + '.tmp'
with open(tmp, 'w') as f:
    json.dump(record, f, indent=1)
    f.write('\n')
os.replace(tmp, os.environ['RECORD'])
print(json.dumps(record))
sys.exit(0 if bench.get('results') and record['fixtures_max_rel_err'] is not None else 1)
