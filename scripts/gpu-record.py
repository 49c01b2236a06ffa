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


def bench_rows_from_stderr():
    """The rows a bench cut short had finished: its 'bench: FORMULA MODE S s (peak P GiB, max rel err vs exact E)' lines."""
    rows = []
    try:
        with open(os.path.join(out, 'bench.json.err')) as f:
            for line in f:
                m = re.match(r'bench: (\S+) (\S+) ([0-9.]+) s \(peak ([0-9.-]+) GiB, max rel err vs exact ([0-9.e+-]+)\)', line)
                if m:
                    peak = float(m.group(4))
                    rows.append({'formula': m.group(1), 'mode': m.group(2), 'seconds': float(m.group(3)), 'floor_seconds': None,
                                 'peak_gib': peak if peak >= 0 else None, 'max_rel_err_vs_exact': float(m.group(5)),
                                 'seconds_at_reference_size': None, 'cut_short': True})
    except OSError:
        pass
    return rows


bench = read_json('bench.json') or {}
if not bench.get('results'):
    bench['results'] = bench_rows_from_stderr()
reference = {f: read_json(f'reference-{f}.json') for f in ('sgd', 'signgd', 'asymmetric_signgd')}
results = []
for r in bench.get('results', []):
    ref = reference.get(r['formula'])
    row = dict(r)
    row['reference_seconds'] = ref['seconds'] if ref else None
    if not ref and os.environ.get('REFERENCE') == '1':
        try:
            with open(os.path.join(out, f"reference-{r['formula']}.limit")) as f:
                row['reference_at_least_seconds'] = float(f.read())
        except (OSError, ValueError):
            row['reference_at_least_seconds'] = None
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
complete = bench.get('results') and not any(r.get('cut_short') for r in bench['results'])
sys.exit(0 if complete and record['fixtures_max_rel_err'] is not None else 1)
