import { configDocs } from "@riffle/shared";
import { write } from "../output.js";

/** `riffle config-docs`: the configuration reference as Markdown (docs/configuration.md). */
export async function configDocsCommand(): Promise<number> {
  await write(process.stdout, configDocs());
  return 0;
}
