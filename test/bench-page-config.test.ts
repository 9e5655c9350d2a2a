/**
 * The benchmark page's run configuration and adapter sizing, without a browser: a software
 * adapter's defaults leave VGG8B out (training and conv kernels), a URL query still asks for it,
 * and the page's permalink names the smaller set so it means the same run on every adapter.
 */
import { describe, expect, it } from 'vitest';
import {
  configFromQuery,
  DEFAULT_CONFIG,
  layerSelected,
  queryOf,
  softwareDefaults,
} from '../demo/bench/config.ts';
import { type AdapterSummary, softwareRenderer } from '../demo/ui/adapter.ts';

const KNOWN = ['mlp1', 'mlp2', 'cnn-small', 'vgg8b', 'vgg11b'];

function adapter(info: Partial<AdapterSummary>): AdapterSummary {
  return {
    vendor: '',
    architecture: '',
    device: '',
    description: '',
    features: [],
    limits: {},
    source: 'adapter',
    ...info,
  };
}

describe('softwareRenderer', () => {
  it('names CPU renderers from any field of the adapter info', () => {
    expect(softwareRenderer(adapter({ vendor: 'google', architecture: 'swiftshader' }))).toBe(
      'SwiftShader',
    );
    expect(
      softwareRenderer(
        adapter({
          vendor: 'mesa',
          architecture: '',
          description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
        }),
      ),
    ).toBe('llvmpipe');
    expect(softwareRenderer(adapter({ device: 'Lavapipe' }))).toBe('lavapipe');
    expect(softwareRenderer(adapter({ description: 'Microsoft Basic Render Driver' }))).toBe(
      'Microsoft Basic Render Driver',
    );
  });

  it('trusts isFallbackAdapter when the names say nothing', () => {
    expect(softwareRenderer(adapter({ vendor: 'acme', fallback: true }))).toBe(
      'a fallback adapter',
    );
  });

  it('leaves hardware adapters alone', () => {
    expect(
      softwareRenderer(adapter({ vendor: 'nvidia', architecture: 'ada', fallback: false })),
    ).toBeUndefined();
    expect(softwareRenderer(adapter({ vendor: 'apple', architecture: 'metal-3' }))).toBeUndefined();
  });
});

describe('the benchmark page configuration', () => {
  it('leaves VGG8B out on a software adapter, training and conv kernels', () => {
    const c = configFromQuery('', KNOWN, softwareDefaults());
    expect(c.presets).toEqual(['mlp1', 'mlp2', 'cnn-small']);
    expect(c.vggKernels).toBe(false);
    expect(layerSelected(c, 'vgg8b conv1')).toBe(false);
    expect(layerSelected(c, 'mlp2 fc1')).toBe(true);
    expect(layerSelected(c, 'mlp2 fc3 = mlp1 fc2')).toBe(true);
    // Everything else as on a hardware adapter.
    expect({ ...c, presets: DEFAULT_CONFIG.presets, vggKernels: true }).toEqual(DEFAULT_CONFIG);
  });

  it('measures everything on a hardware adapter', () => {
    const c = configFromQuery('', KNOWN);
    expect(c.presets).toEqual(['mlp1', 'mlp2', 'cnn-small', 'vgg8b']);
    expect(c.vggKernels).toBe(true);
    expect(layerSelected(c, 'vgg8b conv6')).toBe(true);
  });

  it('gives a URL query precedence over the adapter defaults', () => {
    const c = configFromQuery('?presets=vgg8b&vggKernels=1', KNOWN, softwareDefaults());
    expect(c.presets).toEqual(['vgg8b']);
    expect(c.vggKernels).toBe(true);
    const off = configFromQuery('?vggKernels=0&layers=conv1', KNOWN);
    expect(layerSelected(off, 'vgg8b conv1')).toBe(false);
    expect(layerSelected({ ...off, vggKernels: true }, 'vgg8b conv1')).toBe(true);
    expect(layerSelected({ ...off, vggKernels: true }, 'mlp1 fc1')).toBe(false);
  });

  it('writes links against the full defaults, so they ask for the same run everywhere', () => {
    const software = softwareDefaults();
    const query = queryOf(software);
    expect(query).toBe('?presets=mlp1%2Cmlp2%2Ccnn-small&vggKernels=0');
    expect(configFromQuery(query, KNOWN)).toEqual(software);
    expect(queryOf(DEFAULT_CONFIG)).toBe('');
  });
});
