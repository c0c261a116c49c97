/** What a job spec gets for what the user leaves out (the CLI's help prints them without loading the model). */
export const SPEC_DEFAULTS = { fps: 12, width: 192, height: 192, seed: 42 } as const;
