import { runCli } from "./cli.js";

/** Entry point of the `rendermesh-arbiter` binary. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const code = await runCli(argv);
  // Open handles (sockets, timers) must not keep a finished command alive.
  process.exit(code);
}
