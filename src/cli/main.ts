#!/usr/bin/env node
// The distillrec command line.
import { Command } from "commander";
import { infoCommand } from "./commands/info.js";
import { inspectCommand } from "./commands/inspect.js";

const program = new Command("distillrec")
  .description("train a teacher recommender, distil it into a small fast student, compress and serve it")
  .version("0.1.0")
  .showHelpAfterError()
  .addCommand(infoCommand())
  .addCommand(inspectCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`distillrec: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
