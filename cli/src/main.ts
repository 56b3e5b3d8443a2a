import { CommanderError } from "commander";
import { reportError } from "./errors.js";
import { flushStdio } from "./output.js";
import { buildProgram } from "./program.js";

/**
 * Entry point of `riffle`. Exits explicitly once the command is done, so a handle left open (a
 * keep-alive socket, a lingering timer in a closed server) never keeps the command from ending.
 */
async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    // Commander has printed its message already; usage errors exit 2, --help and --version 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    return reportError(err);
  }
}

const code = await main(process.argv);
await flushStdio();
process.exit(code);
