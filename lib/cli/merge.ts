// `lmkernel merge --out OUT.json SHARD...`: assembles `kernel --shard i/n` outputs (checked).
import { readJsonFile, writeFileAtomic } from '../io.js';
import { mergeKernelShards, type KernelFile } from '../kernels/merge.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';
import { LmkError } from '../errors.js';

const SPEC: FlagSpec = { out: { type: 'string', help: 'merged kernel file (written atomically)' } };

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, 'merge');
  if (args.help) {
    console.log(helpText('merge', '--out OUT.json SHARD_0.json SHARD_1.json ...', SPEC));
    return 0;
  }
  const out = requireFlag<string>(args, 'out', 'merge');
  if (args._.length === 0) throw new LmkError('merge: give the shard files to merge');
  const parts = args._.map((name) => ({ name, file: readJsonFile(name, 'kernel shard') as KernelFile }));
  const merged = mergeKernelShards(parts);
  writeFileAtomic(out, JSON.stringify(merged));
  console.error(`merge: ${parts.length} shard files, ${merged.tiling!.num_tiles} tiles -> ${out}`);
  return 0;
}
