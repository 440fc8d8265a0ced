import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

describe('Batcher', () => {
  it('groups calls that arrive while a group is in flight, and keeps results in order', async () => {
    const groups: number[][] = [];
    const b = new Batcher<number, number>(async (items) => {
      groups.push([...items]);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((x) => ({ ok: true as const, value: x * 2 }));
    });
    const first = b.submit(1);
    await new Promise((r) => setTimeout(r, 1));
    const rest = [2, 3, 4].map((x) => b.submit(x));
    expect(await Promise.all([first, ...rest])).toEqual([2, 4, 6, 8]);
    expect(groups).toEqual([[1], [2, 3, 4]]);
  });

  it('fails only the items the group settles as failed; a thrown group fails all of it', async () => {
    const b = new Batcher<number, number>(async (items) =>
      items.map((x) =>
        x % 2 ? { ok: true as const, value: x } : { ok: false as const, error: new Error(`even ${x}`) },
      ),
    );
    const r = await Promise.allSettled([1, 2, 3].map((x) => b.submit(x)));
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const boom = new Batcher<number, number>(async () => {
      throw new Error('db down');
    });
    await expect(boom.submit(1)).rejects.toThrow('db down');
    // and it keeps working afterwards
    expect(await b.submit(5)).toBe(5);
  });

  it('caps the group size', async () => {
    const sizes: number[] = [];
    const b = new Batcher<number, number>(async (items) => {
      sizes.push(items.length);
      return items.map((x) => ({ ok: true as const, value: x }));
    }, 3);
    await Promise.all(Array.from({ length: 7 }, (_, i) => b.submit(i)));
    expect(sizes).toEqual([3, 3, 1]);
  });
});
