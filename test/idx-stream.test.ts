/**
 * IDX .gz inflation with the runtime's own streams (no node:*), so it runs in Node and in
 * Chromium: the demo's dropped files take this path. The stream stops at the declared size.
 */
import { describe, expect, it } from 'vitest';
import { decodeIdx, IDX_IMAGES, inflateIdx } from '../src/data/idx.ts';

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function idx(dims: number[], dataBytes: number): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + dataBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 + dims.length, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  for (let i = 4 + 4 * dims.length; i < out.length; i++) out[i] = i & 0xff;
  return out;
}

describe('IDX .gz through DecompressionStream', () => {
  it('inflates a valid file to its declared size', async () => {
    const raw = idx([3, 28, 28], 3 * 784);
    const parsed = await decodeIdx(await gzip(raw), 'images.gz', IDX_IMAGES);
    expect(parsed.dims).toEqual([3, 28, 28]);
    expect([...parsed.data]).toEqual([...raw.subarray(16)]);
  });

  it('stops a stream that inflates past the declared size (64 MiB for 2 images)', async () => {
    const bomb = await gzip(idx([2, 28, 28], 64 << 20));
    expect(bomb.length).toBeLessThan(1 << 20);
    await expect(inflateIdx(bomb, 'bomb.gz', IDX_IMAGES)).rejects.toThrow(
      'idx bomb.gz: trailing bytes: the inflated data runs past the 1584 bytes its header declares',
    );
  });
});
