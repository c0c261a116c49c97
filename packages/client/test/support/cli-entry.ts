// `rendermesh` from source, for tests that run the CLI as a child process.
import { main } from "../../src/cli/index.js";

process.exitCode = await main(process.argv.slice(2));
