// `pnpm demo` will start a local network and run one paid job (see the README).
// Until the parts it needs have landed, say so plainly instead of pretending.
console.error(
  "pnpm demo is not available yet: it needs the provider node, coordinator and client.\n" +
    "Run `./quickstart.sh test` to set up and run the test suite meanwhile.",
);
process.exit(1);
