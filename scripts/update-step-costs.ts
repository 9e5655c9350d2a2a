/**
 * Rewrites test/guards/step-costs.json, the committed table of what one training step of each
 * preset costs (dispatches, submits, device bytes at batch 2) that test/step-costs.test.ts holds
 * every change to. Run it when a change is meant to alter those numbers, and say why in the
 * commit:
 *
 *   npx vite-node scripts/update-step-costs.ts
 */
import { writeFileSync } from 'node:fs';
import {
  currentStepCosts,
  GUARD_BATCH,
  TABLE_FILE,
  UPDATE_COMMAND,
} from '../test/guards/step-costs.ts';

const presets = await currentStepCosts();
const table = { batch: GUARD_BATCH, update: UPDATE_COMMAND, presets };
writeFileSync(TABLE_FILE, `${JSON.stringify(table, null, 2)}\n`);
for (const [name, c] of Object.entries(presets))
  console.log(
    `${name.padEnd(14)} ${String(c.dispatchesPerStep).padStart(4)} dispatches  ${c.submitsPerStep} submit/step  ${String(c.submitsPerEpoch).padStart(3)} submits/epoch  ${c.tensorBytes + c.scratchBytes} bytes`,
  );
console.log(`wrote ${TABLE_FILE}`);
