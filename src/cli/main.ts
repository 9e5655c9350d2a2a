/** The `nitro-d` command line. */
export async function main(argv: string[]): Promise<number> {
  console.error(`nitro-d: unknown command ${argv[0] ?? ''}`);
  return 2;
}
