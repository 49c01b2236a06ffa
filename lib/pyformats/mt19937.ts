// numpy's legacy `RandomState` (MT19937), reimplemented bit-for-bit for the calls the k-shot generator
// and pandas make: `np.random.seed(int)`, `shuffle`, `permutation`, `choice(n, size, replace=False)`,
// `random_sample`.
//
// Verified against numpy's sources (numpy/random/mtrand.pyx, src/distributions/distributions.c,
// src/mt19937/mt19937.c; identical to randomkit's rk_seed/rk_interval in numpy <= 1.16):
// - seed(int): `_legacy_seeding` -> `mt19937_seed(state, seed & 0xffffffff)`, i.e. Matsumoto-Nishimura
//   `init_genrand` (key[0] = seed; key[i] = 1812433253 * (key[i-1] ^ (key[i-1] >> 30)) + i), pos = 624.
// - shuffle(x) (list or 1-d array): `for i in reversed(range(1, n)): j = random_interval(i); swap(x[i], x[j])`.
// - random_interval(max): mask = smallest all-ones mask >= max; draw `next_uint32() & mask` until <= max
//   (32-bit draws whenever max <= 0xffffffff, which always holds here).
// - permutation(n) = shuffle(arange(n)); choice(n, size, replace=False, p=None) = permutation(n)[:size].
// - random_sample: (a >> 5) * 67108864 + (b >> 6)) / 9007199254740992 with two 32-bit draws.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class RandomState {
  private readonly key = new Uint32Array(N);
  private pos = N;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** `np.random.seed(seed)` for an integer seed in [0, 2**32 - 1]. */
  seed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`Seed must be between 0 and 2**32 - 1, received ${seed}`);
    }
    let s = seed >>> 0;
    for (let i = 0; i < N; i++) {
      this.key[i] = s;
      // 1812433253 * (s ^ (s >>> 30)) + i + 1, mod 2**32 (Math.imul keeps the low 32 bits exactly).
      s = (Math.imul(1812433253, (s ^ (s >>> 30)) >>> 0) + i + 1) >>> 0;
    }
    this.pos = N;
  }

  private generate(): void {
    const k = this.key;
    let i = 0;
    let y: number;
    for (; i < N - M; i++) {
      y = (k[i] & UPPER_MASK) | (k[i + 1] & LOWER_MASK);
      k[i] = k[i + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    for (; i < N - 1; i++) {
      y = (k[i] & UPPER_MASK) | (k[i + 1] & LOWER_MASK);
      k[i] = k[i + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    y = (k[N - 1] & UPPER_MASK) | (k[0] & LOWER_MASK);
    k[N - 1] = k[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    this.pos = 0;
  }

  /** The next tempered 32-bit output (`mt19937_next32` / `rk_random`). */
  nextUint32(): number {
    if (this.pos === N) this.generate();
    let y = this.key[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random_sample()`: a double in [0, 1) with 53 random bits. */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /** `random_interval(max)`: a uniform integer in [0, max] by masked rejection sampling. */
  randomInterval(max: number): number {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`randomInterval: bad max ${max}`);
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new RangeError('randomInterval: max above 2**32 - 1 needs 64-bit draws (not supported)');
    let mask = max >>> 0;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do {
      value = (this.nextUint32() & mask) >>> 0;
    } while (value > max);
    return value;
  }

  /** `shuffle(x)` in place (legacy Fisher-Yates from the end). Returns `x` for convenience. */
  shuffle<T>(x: T[]): T[] {
    for (let i = x.length - 1; i >= 1; i--) {
      const j = this.randomInterval(i);
      const t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    return x;
  }

  /** `permutation(n)`: a shuffled `arange(n)`. */
  permutation(n: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    return this.shuffle(a);
  }

  /** `choice(n, size, replace=False)` with uniform probabilities: `permutation(n)[:size]`. */
  choiceWithoutReplacement(n: number, size: number): number[] {
    if (size > n) throw new RangeError("Cannot take a larger sample than population when 'replace=False'");
    if (size < 0) throw new RangeError('negative dimensions are not allowed');
    return this.permutation(n).slice(0, size);
  }
}
