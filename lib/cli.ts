// The `lmkernel` command line: one module per command under lib/cli/, loaded on demand.
import { LmkError } from './errors.js';

const COMMANDS: Record<string, string> = {
  kernel: 'compute eNTK kernels (sgd, signgd, asymmetric_signgd) for train x train and train x test',
  merge: 'assemble the shard files of `kernel --shard i/n` into one kernel file (checked)',
  encode: 'encode task examples with a template into token ids and mask positions',
  data: 'data tools: `data download` fetches the LM-BFF datasets (checked), `data k-shot` writes the k-shot splits',
  solve: 'fit a kernel solver (lstsq, logistic, svr, svc, asym) and predict',
  run: 'run kernel experiments over seeds with hyper-parameters selected on dev',
  report: "render results.jsonl as the paper's Table 2 (Markdown, CSV)",
  finetune: 'fine-tune (SGD, Adam, SignGD, LoRA) and measure kernel behaviour',
  'finetune-run': 'fine-tuning experiments over seeds (lr x batch-size grid on dev), results.jsonl lines',
  behaviour: 'kernel-behaviour measurements: chi, lora-vs-full, Linearization / Fixed-Features tables',
  figures: 'figures (SVG, PNG) and tables from results.jsonl lines',
  pretrain: 'pre-train a small RoBERTa masked LM from scratch (Brown corpus, GPT-2 BPE) into a model folder',
  demo: 'the main job end to end on the shipped model and demo task: kernels, solvers, fine-tuning, Table 2',
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(13)} ${v}`);
  return (
    `usage: lmkernel <command> [options]\n\ncommands:\n${rows.join('\n')}\n\n` +
    'Run `lmkernel <command> --help` for the options of a command.'
  );
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return cmd ? 0 : 2;
  }
  if (!(cmd in COMMANDS)) {
    console.error(`lmkernel: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  let mod: { run(args: string[]): Promise<number> };
  try {
    mod = await import(`./cli/${cmd}.js`);
  } catch (e) {
    console.error(`lmkernel: command '${cmd}' is not available in this build (${(e as Error).message})`);
    return 2;
  }
  try {
    return await mod.run(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof LmkError || err.name === 'AbortError' || err.name === 'TypeError' || err.name === 'Error') {
      // messages that already name the command ("run: ...") are not prefixed twice
      const msg = err.message.startsWith(`${cmd}:`) || err.message.startsWith(`${cmd} `) ? err.message : `${cmd}: ${err.message}`;
      console.error(`lmkernel ${msg}`);
    } else {
      console.error(err.stack ?? String(err));
    }
    return 1;
  }
}
