/**
 * Format versions of the files nitro-d writes and reads back. A checkpoint names its format in
 * safetensors metadata ("format": "nitro-d/checkpoint@1"); a model spec may carry "version": 1.
 * A file without a version is version 1 (everything written before versions existed). A reader
 * takes every version up to its own and refuses a newer one with a one-line error naming the
 * file and both versions. Runtime-neutral: no Node imports.
 */

/** The format name in a checkpoint's "format" metadata field. */
export const CHECKPOINT_FORMAT = 'nitro-d/checkpoint';
/** The checkpoint format version this release writes, and the newest it reads. */
export const CHECKPOINT_VERSION = 1;
/** The model spec version this release reads (the optional "version" key; absent = 1). */
export const SPEC_VERSION = 1;
/** The metadata key that holds the checkpoint format. */
export const FORMAT_KEY = 'format';

/** The "format" metadata value this release writes: "nitro-d/checkpoint@1". */
export function checkpointFormatTag(version = CHECKPOINT_VERSION): string {
  return `${CHECKPOINT_FORMAT}@${version}`;
}

/** A file whose format version is newer than this release reads, or whose version is malformed. */
export class FormatVersionError extends Error {
  constructor(
    message: string,
    /** The file (or source) at fault. */
    readonly file: string,
    /** The version the file declares; undefined when it is not a version at all. */
    readonly version: number | undefined,
    /** The newest version this release reads. */
    readonly supported: number,
  ) {
    super(message);
    this.name = 'FormatVersionError';
  }
}

/** The shared wording of a refused newer version (after "FILE: "). */
export function newerVersionMessage(version: number, supported: number): string {
  return `format version ${version} is newer than this release of nitro-d reads (version ${supported}); upgrade nitro-d to load it`;
}

/**
 * The checkpoint format version of a file's metadata: 1 when "format" is absent, the number
 * after "@" otherwise. Throws FormatVersionError ("checkpoint FILE: ...") when the field is not
 * a nitro-d checkpoint format or names a version newer than CHECKPOINT_VERSION.
 */
export function checkpointVersion(
  metadata: Record<string, string> | undefined,
  file = '<bytes>',
): number {
  const tag = metadata?.[FORMAT_KEY];
  if (tag === undefined) return 1;
  const m = /^nitro-d\/checkpoint@([1-9][0-9]{0,8})$/.exec(tag);
  if (!m) {
    throw new FormatVersionError(
      `checkpoint ${file}: metadata ${FORMAT_KEY} ${JSON.stringify(tag.slice(0, 60))} is not ${CHECKPOINT_FORMAT}@N (this release reads up to ${checkpointFormatTag()})`,
      file,
      undefined,
      CHECKPOINT_VERSION,
    );
  }
  const version = Number(m[1]);
  if (version > CHECKPOINT_VERSION) {
    throw new FormatVersionError(
      `checkpoint ${file}: ${newerVersionMessage(version, CHECKPOINT_VERSION)}`,
      file,
      version,
      CHECKPOINT_VERSION,
    );
  }
  return version;
}

/**
 * The "__metadata__" strings of a safetensors file, or undefined when the header cannot be read
 * (the full parser then reports what is wrong). Reads only the header, so a file's version can be
 * checked before anything a newer version may have changed.
 */
export function peekSafetensorsMetadata(bytes: Uint8Array): Record<string, string> | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (view.getUint32(4, true) !== 0 || 8 + n > bytes.length) return undefined;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const meta = header?.__metadata__;
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return undefined;
  }
}
