// `lmkernel merge --out OUT.json SHARD...`: assembles `kernel --shard i/n` outputs (checked).
import { LmkError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from '../io.js';
import { mergeKernelShards, type KernelFile } from '../kernels/merge.js';
import { defineCommand } from './command.js';

export const command = defineCommand({
  name: 'merge',
  synopsis: '--out OUT.json SHARD_0.json SHARD_1.json ...',
  positionals: true,
  spec: { out: { type: 'string', help: 'merged kernel file (written atomically)', required: true } },
  async run(args) {
    if (args._.length === 0) throw new LmkError('merge: give the shard files to merge');
    const parts = args._.map((name) => ({ name, file: readJsonFile(name, 'kernel shard') as KernelFile }));
    const merged = mergeKernelShards(parts);
    writeFileAtomic(args.out, JSON.stringify(merged));
    console.error(`merge: ${parts.length} shard files, ${merged.tiling!.num_tiles} tiles -> ${args.out}`);
    return 0;
  },
});

export const run = command.run;
