/** Messages between a process and its spawn launcher (spawn-launcher.ts, spawn-launcher-entry.ts), over Node's IPC channel. */
export type LauncherRequest =
  | {
      type: "spawn";
      id: number;
      file: string;
      args: string[];
      /** The stdio fds the parent connects a socket for (0, 1, 2); the others are "ignore". */
      fds: number[];
      env: NodeJS.ProcessEnv;
      cwd: string;
    }
  | { type: "kill"; id: number; signal: NodeJS.Signals }
  | { type: "forget"; id: number };

export type LauncherReply =
  | { type: "ready"; path: string }
  | { type: "spawned"; id: number; pid: number }
  | { type: "error"; id: number; message: string; code: string | undefined }
  | { type: "exit"; id: number; code: number | null; signal: NodeJS.Signals | null };
