// `node --import ./test/helpers/cli-throw-register.mjs bin/lmkernel report`: replaces the `report`
// command module of dist/ with test/helpers/cli-throw-command.mjs, which throws the error that
// LMK_TEST_THROW names, so that test/cli.test.ts sees how the real dispatcher (dist/cli.js) maps it.
import { register } from 'node:module';

register('./cli-throw-hooks.mjs', import.meta.url);
