import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_TYPES_PATH, openApiTypes } from './openapi-types.js';

/** Regenerates src/generated/openapi.ts from a running API: `node dist/scripts/generate-openapi.js <url>`. */
const url = process.argv[2] ?? 'http://127.0.0.1:3000/openapi.json';
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const res = await fetch(url);
if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
const target = path.join(packageRoot, GENERATED_TYPES_PATH);
await writeFile(target, await openApiTypes(await res.json()));
console.log(`wrote ${target} from ${url}`);
