// Types of scripts/ci-count.mjs (for the tests that import it).
export interface Count {
  passed: number;
  failed: number;
  problems: string[];
}
export function countVitest(report: unknown, rc: number): Count;
export function countCtest(log: string | null | undefined, rc: number): Count;
export function countRun(o: {
  vitestReport: unknown;
  vitestRc: number;
  ctestLog: string | null | undefined;
  ctestRc: number;
  checks?: { name: string; rc: number }[];
}): { passed: number; failed: number; lines: string[] };
