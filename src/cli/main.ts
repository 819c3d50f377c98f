#!/usr/bin/env node
// The distillrec command line.
import { Command } from "commander";
import { DataError } from "../data/errors.js";
import { ConfigError } from "../run/config.js";
import { ArtefactError } from "../models/artefact.js";
import { TrainingFailure } from "../train/trainer.js";
import { UsageError } from "./commands/common.js";
import { compressCommand } from "./commands/compress.js";
import { demoBrowserCommand } from "./commands/demo-browser.js";
import { distillCommand } from "./commands/distill.js";
import { evaluateCommand } from "./commands/evaluate.js";
import { exportCommand } from "./commands/export.js";
import { infoCommand } from "./commands/info.js";
import { inspectCommand } from "./commands/inspect.js";
import { onlineCommand } from "./commands/online.js";
import { runCommand } from "./commands/run.js";
import { serveCommand } from "./commands/serve.js";
import { trainTeacherCommand } from "./commands/train-teacher.js";

const program = new Command("distillrec")
  .description("train a teacher recommender, distil it into a small fast student, compress and serve it")
  .version("0.1.0")
  .showHelpAfterError()
  .addCommand(infoCommand())
  .addCommand(inspectCommand())
  .addCommand(runCommand())
  .addCommand(trainTeacherCommand())
  .addCommand(distillCommand())
  .addCommand(evaluateCommand())
  .addCommand(compressCommand())
  .addCommand(exportCommand())
  .addCommand(demoBrowserCommand())
  .addCommand(serveCommand())
  .addCommand(onlineCommand());

/** Errors caused by the user's input: reported as one line, without a stack trace. */
function isUserError(err: unknown): err is Error {
  return (
    err instanceof UsageError ||
    err instanceof ConfigError ||
    err instanceof ArtefactError ||
    err instanceof DataError ||
    // A run that learns nothing: the message names the settings to change.
    err instanceof TrainingFailure ||
    (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" && "path" in err)
  );
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (isUserError(err)) {
    console.error(`distillrec: ${err.message}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  } else {
    console.error(`distillrec: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  }
  // A command that failed must end even if something it opened lingers (a Redis connection, a worker): give
  // cleanup a moment, then exit with the code set above.
  setTimeout(() => process.exit(), 1000).unref();
}
