/** A command line that does not fit a command: the CLI prints it with the usage and exits 1. */
export class UsageError extends Error {}
