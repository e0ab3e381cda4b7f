import { bucketOf, chooseVersion, diff } from '../../src/workflows/patterns/versions';

describe('canary selection', () => {
  it('gives the same key the same version every time', () => {
    expect(bucketOf('cus_0042')).toBe(bucketOf('cus_0042'));
    expect(chooseVersion('cus_0042', 37)).toBe(chooseVersion('cus_0042', 37));
  });

  it('routes about the set share of keys to v2, and none or all at the ends', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `cus_${i}`);
    const share = keys.filter((k) => chooseVersion(k, 10) === 'v2').length / keys.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(keys.some((k) => chooseVersion(k, 0) === 'v2')).toBe(false);
    expect(keys.every((k) => chooseVersion(k, 100) === 'v2')).toBe(true);
  });

  it('keeps a key on v2 as the share grows (a canary widens, it does not reshuffle)', () => {
    const keys = Array.from({ length: 1_000 }, (_, i) => `order-${i}`);
    const at10 = keys.filter((k) => chooseVersion(k, 10) === 'v2');
    expect(at10.every((k) => chooseVersion(k, 50) === 'v2')).toBe(true);
  });
});

describe('diff', () => {
  it('names the paths at which two answers differ', () => {
    expect(diff({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 3] }, d: true })).toEqual(['b.c[1]', 'd']);
    expect(diff({ a: 1 }, { a: 1 })).toEqual([]);
    expect(diff(null, { a: 1 })).toEqual(['(root)']);
  });
});
