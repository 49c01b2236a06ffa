// Zero-shot prompt accuracy: argmax over the label words' logits at <mask>, no training.
import { encoderOptionsFor } from '../experiments/prepare.js';
import type { LmModel } from '../model.js';
import { taskEncoder, type TaskEncoderOptions } from '../prompts/index.js';
import type { Example } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer.js';

export interface ZeroShot {
  accuracy: number;
  n: number;
  /** Accuracy of always predicting the majority label of these examples. */
  majority: number;
  predictedShare: number[];
  /** Per example: 1 when the prediction is right, else 0. */
  correct: number[];
}

export async function zeroShotAccuracy(
  model: LmModel,
  tok: Tokenizer,
  task: string,
  examples: Example[],
  opts: TaskEncoderOptions = {},
): Promise<ZeroShot> {
  // a decoder reads the label words after its causal prompt (prompts/causal.ts)
  const enc = taskEncoder(tok, task, { ...encoderOptionsFor(model.info.arch, model.info.maxPositions, task), ...opts });
  const inputs = examples.map((x, i) => {
    const e = enc.encode(x.texts, i);
    return { input_ids: e.inputIds, mask_pos: e.maskPos };
  });
  const logits = await model.outputs({ inputs, labelWordIds: enc.labelWordIds, batchSize: 32 });
  const C = enc.labelWordIds.length;
  const counts = new Array(C).fill(0);
  const pred = new Array(C).fill(0);
  const right: number[] = [];
  logits.forEach((row, i) => {
    const p = row.indexOf(Math.max(...row));
    pred[p]++;
    counts[examples[i].labelIndex]++;
    right.push(p === examples[i].labelIndex ? 1 : 0);
  });
  const n = examples.length;
  const correct = right.reduce((a, b) => a + b, 0);
  return { accuracy: correct / n, n, majority: Math.max(...counts) / n, predictedShare: pred.map((c) => c / n), correct: right };
}
