// Module resolution hook (see cli-throw-register.mjs): dist/cli/report.js -> cli-throw-command.mjs.
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\/dist\/cli\/report\.js$/.test(r.url))
    return { url: new URL('./cli-throw-command.mjs', import.meta.url).href, shortCircuit: true };
  return r;
}
