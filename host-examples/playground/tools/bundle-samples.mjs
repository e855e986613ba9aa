// Copies the samples named in samples/samples.json into the served folder and writes the
// index the page reads. Sample inputs are referenced where they live (the relink golden
// cases, the shared fixtures), so the page shows exactly what the tests check; a missing
// file fails the build.
//
//   node tools/bundle-samples.mjs samples/samples.json dist/web/samples

import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";

const [manifestPath, outDir] = process.argv.slice(2);
if (!manifestPath || !outDir) {
  console.error("usage: bundle-samples.mjs MANIFEST OUT_DIR");
  process.exit(64);
}
const base = dirname(resolve(manifestPath));
const samples = JSON.parse(readFileSync(manifestPath, "utf8"));
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const index = samples.map((s) => {
  if (!/^[a-z0-9-]+$/.test(s.id)) throw new Error(`sample id ${JSON.stringify(s.id)}: use a-z, 0-9 and -`);
  mkdirSync(resolve(outDir, s.id));
  const copy = (rel, name) => {
    copyFileSync(resolve(base, rel), resolve(outDir, s.id, name));
    return `${s.id}/${name}`;
  };
  return {
    id: s.id,
    title: s.title,
    description: s.description,
    config: s.config ? copy(s.config, "config.json") : null,
    inputs: s.inputs.map((input, i) => ({
      label: input.label,
      kind: input.kind ?? "auto",
      file: copy(input.file, `${i + 1}-${basename(input.file)}`),
    })),
  };
});
writeFileSync(resolve(outDir, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
console.log(`${index.length} samples -> ${outDir}`);
