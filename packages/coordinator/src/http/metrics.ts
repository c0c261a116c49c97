import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { ProviderDirectory } from "../directory/index.js";
import type { CoordinatorStore } from "../store/index.js";
import type { Supervisor } from "../supervisor/index.js";

export interface MetricsComponents {
  store: CoordinatorStore;
  directory: ProviderDirectory;
  supervisor: Supervisor;
  followers: () => number;
}

/** Prometheus metrics of one coordinator, in their own registry (never the global one). */
export function createMetrics(c: MetricsComponents): { registry: Registry; stop: () => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "rendermesh_coordinator_" });
  const events = new Counter({
    name: "rendermesh_coordinator_job_events_total",
    help: "Job events emitted, by type",
    labelNames: ["type"],
    registers: [registry],
  });
  const failures = new Counter({
    name: "rendermesh_coordinator_segment_failures_total",
    help: "Segment attempts that failed, by reason code",
    labelNames: ["code"],
    registers: [registry],
  });
  const stop = c.store.onEvent((e) => {
    events.inc({ type: e.type });
    if (e.type === "segment-failed") failures.inc({ code: (e as { code: string }).code });
  });
  new Gauge({
    name: "rendermesh_coordinator_jobs",
    help: "Jobs by status",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      for (const [status, n] of Object.entries(c.store.countJobs())) this.set({ status }, n);
    },
  });
  new Gauge({
    name: "rendermesh_coordinator_providers_live",
    help: "Providers that announced recently",
    registers: [registry],
    collect() {
      this.set(c.directory.size);
    },
  });
  new Gauge({
    name: "rendermesh_coordinator_segments_in_flight",
    help: "Segment attempts rendering now",
    registers: [registry],
    collect() {
      this.set(c.store.activeAttempts().length);
    },
  });
  new Gauge({
    name: "rendermesh_coordinator_job_streams",
    help: "Open job event streams",
    registers: [registry],
    collect() {
      this.set(c.followers());
    },
  });
  const stat = (name: keyof Supervisor["stats"], help: string) =>
    new Gauge({
      name: `rendermesh_coordinator_${name}_total`,
      help,
      registers: [registry],
      collect() {
        this.set(c.supervisor.stats[name]);
      },
    });
  stat("decisions", "Scheduling decisions made since start");
  stat("dispatched", "Render requests sent since start");
  stat("delivered", "Verified delivery receipts received since start");
  stat("speculative", "Speculative copies started since start");
  stat("timeouts", "Attempts that passed their deadline since start");
  return { registry, stop };
}
