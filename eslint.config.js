// ESLint flat config: typescript-eslint's recommended rules for the TypeScript (lib/, test/, configs) and
// ESLint's for the JavaScript (scripts/*.mjs, bin/lmkernel). Formatting is Prettier's: eslint-config-prettier
// turns off the rules that would fight it. `npm run lint` runs this and `prettier --check`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'dist/',
    'build/',
    'build-*/',
    'prebuilds/',
    'models/',
    'demo-output/',
    'work/',
    'coverage/',
    'reports/',
    '.stryker-tmp/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // `_`-prefixed arguments, variables and caught errors are deliberately unused
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    // plain JavaScript (the CLI entry has no extension): CommonJS interop through createRequire is fine
    files: ['**/*.mjs', '**/*.js', 'bin/lmkernel'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
