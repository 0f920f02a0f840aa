// Activation codes shared with shaders/common/activation.wgsl (the `activate` switch).
export const ACTIVATIONS = {
  none: 0,
  relu: 1,
  gelu: 2,
  quickgelu: 3,
  sigmoid: 4,
  tanh: 5,
  exp: 6,
  neg: 7,
  abs: 8,
  sqrt: 9,
  rsqrt: 10,
  log: 11,
  square: 12,
} as const;

export type Activation = keyof typeof ACTIVATIONS;

export function activationCode(name: Activation): number {
  const code = ACTIVATIONS[name];
  if (code === undefined) throw new Error(`unknown activation '${String(name)}' (known: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return code;
}

/** float64 reference of each activation, for tests and CPU fallbacks of tiny tensors. */
export function activateRef(name: Activation, x: number): number {
  switch (name) {
    case 'none': return x;
    case 'relu': return Math.max(x, 0);
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'quickgelu': return x / (1 + Math.exp(-1.702 * x));
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    case 'exp': return Math.exp(x);
    case 'neg': return -x;
    case 'abs': return Math.abs(x);
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'log': return Math.log(x);
    case 'square': return x * x;
  }
}

/** erf in float64 (series for small |x|, continued fraction for large), accurate to ~1e-15. */
export function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 2.5) {
    // Maclaurin series: erf z = 2/√π Σ (−1)^n z^(2n+1) / (n! (2n+1))
    let term = z, sum = z;
    for (let n = 1; n < 60; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc z = exp(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...)))) (Lentz-free backward evaluation)
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (z + f);
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  }
  return x < 0 ? -r : r;
}
