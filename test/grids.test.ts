// lib/experiments/grids.ts (docs/mutation.md): the solvers' axes and default grids as docs/solvers.md and
// the README document them (written out here, not read from the module), and resolveGrid's replacements and
// refusals with their exact messages.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../lib/errors.js';
import { ASYM_LAMBDA_SEARCH, DEFAULT_GRIDS, SOLVER_AXES, resolveGrid } from '../lib/experiments/grids.js';
import { SOLVERS } from '../lib/solvers/index.js';
import { thrownMessage } from './helpers/thrown.js';

const documented = {
  lstsq: { kernelRegularization: [0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], f0Scaling: [0, 1, 10, 100, 1000] },
  logistic: { kernelRegularization: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], f0Scaling: [0, 1, 10, 100, 1000] },
  'logistic-rows': { kernelRegularization: [0], C: [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000, 10000] },
  svr: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], C: [0.01, 0.1, 1, 10, 100], epsilon: [0.1] },
  svc: { kernelRegularization: [0], C: [0.01, 0.1, 1, 10, 100] },
  asym: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], gamma: [0.1, 1, 10], lambda: [1] },
};

const message = (f: () => unknown): string => thrownMessage(f, OptionError);

describe('grids', () => {
  it('each solver takes its axes, in grid order', () => {
    expect(SOLVER_AXES).toEqual({
      lstsq: ['kernelRegularization', 'f0Scaling'],
      logistic: ['kernelRegularization', 'f0Scaling'],
      'logistic-rows': ['kernelRegularization', 'C'],
      svr: ['kernelRegularization', 'f0Scaling', 'C', 'epsilon'],
      svc: ['kernelRegularization', 'C'],
      asym: ['kernelRegularization', 'f0Scaling', 'gamma', 'lambda'],
    });
    expect(Object.keys(SOLVER_AXES).sort()).toEqual([...SOLVERS].sort());
  });

  it('the default grids are the documented ones (exact decades), in axis order', () => {
    expect(DEFAULT_GRIDS).toEqual(documented);
    for (const s of SOLVERS) expect(Object.keys(DEFAULT_GRIDS[s]), s).toEqual(SOLVER_AXES[s]);
    expect(ASYM_LAMBDA_SEARCH).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('resolveGrid: the defaults, as copies, in axis order', () => {
    for (const s of SOLVERS) {
      const g = resolveGrid(s);
      expect(g, s).toEqual(documented[s]);
      expect(Object.keys(g), s).toEqual(SOLVER_AXES[s]);
      g.kernelRegularization!.push(42);
      expect(DEFAULT_GRIDS[s].kernelRegularization, s).toEqual(documented[s].kernelRegularization);
    }
  });

  it("resolveGrid: the user's axes replace the defaults (copied); an undefined axis keeps the default", () => {
    const C = [5, 50];
    const g = resolveGrid('svc', { C, kernelRegularization: undefined });
    expect(g).toEqual({ kernelRegularization: [0], C: [5, 50] });
    expect(Object.keys(g)).toEqual(['kernelRegularization', 'C']);
    expect(g.C).not.toBe(C);
    expect(resolveGrid('asym', { lambda: [0, 1], gamma: [2] })).toEqual({
      kernelRegularization: [0],
      f0Scaling: [0, 1, 10, 100],
      gamma: [2],
      lambda: [0, 1],
    });
    // 0 and negative regularisations are allowed for every solver but logistic; logistic's other axis may hold 0
    expect(resolveGrid('lstsq', { kernelRegularization: [0, -1] }).kernelRegularization).toEqual([0, -1]);
    expect(resolveGrid('logistic', { f0Scaling: [0], kernelRegularization: [1e-9] })).toEqual({
      kernelRegularization: [1e-9],
      f0Scaling: [0],
    });
  });

  it('resolveGrid refuses an axis the solver does not take, a bad list, and λ ≤ 0 for logistic', () => {
    expect(message(() => resolveGrid('lstsq', { gamma: [1] }))).toBe(
      "option 'grid.gamma': expected only kernelRegularization, f0Scaling for solver 'lstsq', received an array of length 1",
    );
    expect(message(() => resolveGrid('svc', { f0Scaling: [1] }))).toBe(
      "option 'grid.f0Scaling': expected only kernelRegularization, C for solver 'svc', received an array of length 1",
    );
    for (const v of [[], 'x', [1, Number.NaN], [Infinity], [1, '2']]) {
      expect(
        message(() => resolveGrid('svr', { epsilon: v as number[] })),
        JSON.stringify(v),
      ).toMatch(/^option 'grid\.epsilon': expected a non-empty list of finite numbers, received /);
    }
    for (const v of [[0], [1e-3, -1e-3]])
      expect(
        message(() => resolveGrid('logistic', { kernelRegularization: v })),
        JSON.stringify(v),
      ).toMatch(
        /^option 'grid\.kernelRegularization': expected numbers > 0 for solver 'logistic' \(the penalty lambda \* \|\|K\|\|_op\), received /,
      );
  });
});
