// Whether ops record the graph. kd.noGrad(fn) turns recording off while fn runs.

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

export function withGradMode<T>(mode: boolean, fn: () => T): T {
  const previous = enabled;
  enabled = mode;
  try {
    return fn();
  } finally {
    enabled = previous;
  }
}

export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
