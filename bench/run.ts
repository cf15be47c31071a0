// `npm run bench -- <family>`: runs bench/<family>.ts's exported main().
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const NOT_FAMILIES = new Set(['run', 'common']);

function knownFamilies(): string[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.js') && !f.endsWith('.d.js'))
    .map((f) => f.slice(0, -3))
    .filter((f) => !NOT_FAMILIES.has(f))
    .sort();
}

async function run(): Promise<void> {
  const family = process.argv[2];
  const known = knownFamilies();
  if (!family || !known.includes(family)) {
    console.error(`${family ? `unknown bench family '${family}'. ` : ''}usage: npm run bench -- <family>`);
    console.error(`known families: ${known.join(', ') || '(none built: run npx tsc -p tsconfig.json)'}`);
    process.exitCode = 1;
    return;
  }
  const module = (await import(`./${family}.js`)) as { main?: () => Promise<void> | void };
  if (typeof module.main !== 'function') throw new Error(`bench/${family}.ts exports no main()`);
  await module.main();
}

await run();
