// `lmkernel merge --out OUT.json SHARD...`: assembles `kernel --shard i/n` outputs (checked). Shards may be
// JSON or safetensors, mixed; OUT's extension chooses its format (`.safetensors`, else JSON).
import { LmkError } from '../errors.js';
import { readKernelFile, writeKernelFile } from '../kernels/kernelSet.js';
import { mergeKernelSets } from '../kernels/merge.js';
import { defineCommand } from './command.js';

export const command = defineCommand({
  name: 'merge',
  synopsis: '--out OUT.json|OUT.safetensors SHARD_0 SHARD_1 ...',
  positionals: true,
  spec: {
    out: { type: 'string', help: 'merged kernel file, .json or .safetensors (written atomically)', required: true },
  },
  async run(args) {
    if (args._.length === 0) throw new LmkError('merge: give the shard files to merge');
    const parts = args._.map((name) => ({ name, set: readKernelFile(name, 'kernel shard').set }));
    const merged = mergeKernelSets(parts);
    writeKernelFile(args.out, merged);
    console.error(`merge: ${parts.length} shard files, ${merged.tiling!.num_tiles} tiles -> ${args.out}`);
    return 0;
  },
});

export const run = command.run;
