#!/usr/bin/env node
// Prints libtorch's include or library folders for binding.gyp (the node-gyp/prebuildify route):
// LIBTORCH_DIR when set (a libtorch folder or PyTorch's torch/ folder), else Debian's /usr layout.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const what = process.argv[2];
const root = process.env.LIBTORCH_DIR;
const inc = root
  ? [join(root, 'include'), join(root, 'include', 'torch', 'csrc', 'api', 'include')]
  : ['/usr/include', '/usr/include/torch/csrc/api/include'];
const lib = root ? join(root, 'lib') : '/usr/lib/x86_64-linux-gnu';
if (what === 'include') console.log(inc.filter((d) => existsSync(d)).join(' '));
else if (what === 'lib') console.log(lib);
else {
  console.error('usage: torch-paths.mjs include|lib');
  process.exit(2);
}
